"""The knowledge base in a real browser: a question answered while it is typed, and an
article written from a ticket and published by a second agent."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from knowledgebase.models import Article, ArticleFeedback
from knowledgebase.services import article_create, article_submit, article_transition
from knowledgebase.states import ArticleStatus
from tests.browser import log_in, screenshot
from tests.communities.factories import CommunityFactory, MembershipFactory
from tests.core.factories import AgentFactory
from tests.tickets.factories import MessageFactory, TicketFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _second_page(browser: Browser) -> Page:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.set_default_timeout(15_000)
    return context.new_page()


def _published(title: str, body: str, summary: str, tags: list[str]) -> Article:
    author, reviewer = AgentFactory.create(), AgentFactory.create()
    article = article_create(
        actor=author, data={"title": title, "body": body, "summary": summary, "tags": tags}
    )
    article_submit(article=article, actor=author)
    return article_transition(article=article, name="approve", actor=reviewer)


def test_a_representative_sees_a_suggested_article_opens_it_and_marks_it_helpful(page, live_server):
    community = CommunityFactory.create(name="Meridian Schools")
    representative = MembershipFactory.create(community=community, role="representative").user
    article = _published(
        "How do I reset my password?",
        "Use **Forgot password?** on the sign-in page.",
        "Use 'Forgot password' on the sign-in page.",
        ["password", "login"],
    )
    _published("Set up monitoring", "Scrape /hub/metrics.", "Prometheus.", ["monitoring"])

    log_in(page, live_server.url, representative.email)
    page.goto(f"{live_server.url}/portal/new/")
    page.get_by_label("Subject").press_sequentially("How can I reset a password", delay=20)
    suggestion = page.locator("#kb-suggestions").get_by_role(
        "link", name="How do I reset my password?"
    )
    expect(suggestion).to_be_visible()
    screenshot(page, "kb-portal-suggestions")

    with page.context.expect_page() as opened:
        suggestion.click()
    reader = opened.value
    reader.wait_for_load_state()
    expect(reader.get_by_role("heading", name="How do I reset my password?")).to_be_visible()
    screenshot(reader, "kb-portal-article")
    reader.get_by_label("What was missing or wrong?").fill("Clear steps.")
    reader.get_by_role("button", name="Yes, helpful").click()
    expect(reader.get_by_text("Thank you: glad it helped.")).to_be_visible()
    reader.get_by_role("button", name="This answered my question").click()
    expect(reader.get_by_text("Glad it answered your question")).to_be_visible()

    vote = ArticleFeedback.objects.get()
    assert (vote.article_id, vote.user, vote.helpful, vote.comment) == (
        article.pk, representative, True, "Clear steps."
    )  # fmt: skip
    article.refresh_from_db()
    assert (article.helpful_yes, article.view_count) == (1, 1)
    from knowledgebase.search.models import SearchLog

    logged = SearchLog.objects.get(opened_article=article)
    assert logged.answered_at is not None


def test_an_agent_writes_an_article_from_a_ticket_and_another_publishes_it(
    page, browser, live_server
):
    ticket = TicketFactory.create(
        subject="Notebook kernels die after two minutes",
        description="Every notebook loses its kernel after two minutes.",
        status="in_progress",
    )
    writer = AgentFactory.create(first_name="Lena", last_name="Fischer")
    MessageFactory.create(
        ticket=ticket, author=writer, body="Raise the memory limit of the profile to 4 GB."
    )
    MessageFactory.create(ticket=ticket, author=writer, kind="internal", body="Node 7 again.")

    log_in(page, live_server.url, writer.email)
    page.goto(f"{live_server.url}/desk/tickets/{ticket.reference}/")
    page.get_by_role("button", name="Create an article from this ticket").click()
    expect(
        page.get_by_role("heading", name="Notebook kernels die after two minutes")
    ).to_be_visible()
    expect(page.get_by_text("Raise the memory limit of the profile to 4 GB.")).to_be_visible()
    expect(page.get_by_text("Node 7 again.")).to_have_count(0)
    expect(page.get_by_role("button", name="Approve and publish")).to_be_disabled()
    screenshot(page, "kb-desk-article-in-review")
    article = Article.objects.get()
    assert article.status == ArticleStatus.IN_REVIEW

    reviewer = _second_page(browser)
    log_in(reviewer, live_server.url, AgentFactory.create().email)
    reviewer.goto(f"{live_server.url}/desk/kb/review/")
    screenshot(reviewer, "kb-desk-review-queue")
    reviewer.get_by_role("link", name="Notebook kernels die after two minutes").click()
    reviewer.get_by_role("button", name="Edit").click()
    reviewer.get_by_label("Audience").select_option("public")
    screenshot(reviewer, "kb-desk-editor")
    reviewer.get_by_role("button", name="Save", exact=True).click()
    reviewer.get_by_role("button", name="Approve and publish").click()
    expect(reviewer.get_by_text("Approve and publish: done.")).to_be_visible()
    expect(reviewer.locator(".badge-kb-published")).to_be_visible()

    article.refresh_from_db()
    assert (article.status, article.audience) == (ArticleStatus.PUBLISHED, "public")
    assert article.author == writer
    assert article.reviewer is not None
    assert article.reviewer != writer
    reviewer.goto(f"{live_server.url}/desk/kb/{article.pk}/history/")
    expect(reviewer.locator(".diff-add").first).to_be_visible()
    screenshot(reviewer, "kb-desk-history")


def test_the_demo_knowledge_base_on_the_desk_and_the_portal(page, browser, live_server):
    """The demo's articles as `make run` shows them; `make screenshots` keeps the pictures."""
    from django.core.management import call_command

    from tickets.models import Ticket

    call_command("seed_demo")

    log_in(page, live_server.url, "rep@meridian.example", "demo-password")
    page.goto(f"{live_server.url}/portal/kb/")
    expect(page.get_by_role("heading", name="Getting Started")).to_be_visible()
    expect(page.get_by_role("link", name="Using Support")).to_be_visible()
    expect(page.get_by_text("Kestrel Genomics: choosing a GPU profile")).to_have_count(0)
    expect(page.get_by_text("Runbook: restart a crash-looping hub proxy")).to_have_count(0)
    screenshot(page, "kb-portal-home")
    page.get_by_role("link", name="How fast will you answer? Response and resolution times").click()
    expect(page.locator(".kb-body table")).to_be_visible()
    screenshot(page, "kb-portal-demo-article")

    desk = _second_page(browser)
    log_in(desk, live_server.url, "agent1@example.com", "demo-password")
    desk.goto(f"{live_server.url}/desk/kb/")
    expect(
        desk.get_by_role("link", name="Runbook: restart a crash-looping hub proxy")
    ).to_be_visible()
    screenshot(desk, "kb-desk-list")
    desk.goto(f"{live_server.url}/desk/kb/review/")
    expect(desk.get_by_text("How should we share a large dataset with all users?")).to_be_visible()
    expect(desk.locator("table.kb-overdue tbody tr")).to_have_count(1)
    ticket = Ticket.objects.get(subject="Where do I reset a student's password?")
    desk.goto(f"{live_server.url}/desk/tickets/{ticket.reference}/")
    expect(
        desk.locator("#kb-suggestions").get_by_role("link", name="How do I reset my password?")
    ).to_be_visible()
    desk.locator("#kb-suggestions li", has_text="How do I reset my password?").get_by_role(
        "button", name="Insert link in reply"
    ).click()
    expect(desk.locator("#composer textarea[name='body']")).to_have_value(
        re.compile(r"\[How do I reset my password\?\]\(.*/portal/kb/reset-a-password/\)")
    )
    screenshot(desk, "kb-desk-ticket-panel")
