"""The desk and the portal in a real browser, the way people use them."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser import log_in
from tests.communities.factories import CommunityFactory, MembershipFactory
from tests.core.factories import AgentFactory
from tests.tickets.factories import TicketFactory
from tickets.models import SatisfactionRating, Ticket
from tickets.services.conversation import message_add
from tickets.services.surveys import survey_open, survey_token

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _second_page(browser: Browser) -> Page:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.set_default_timeout(15_000)
    return context.new_page()


def test_a_request_from_the_portal_is_assigned_answered_and_confirmed(page, browser, live_server):
    community = CommunityFactory.create(name="Open Tides")
    representative = MembershipFactory.create(community=community, role="representative").user
    agent = AgentFactory.create(first_name="Lena", last_name="Fischer")

    # the representative submits a request
    log_in(page, live_server.url, representative.email)
    page.goto(f"{live_server.url}/portal/new/")
    page.get_by_label("Incident").check()
    page.get_by_label("High (P2)").check()
    page.get_by_label("Subject").fill("Notebooks lose their kernel")
    page.get_by_label("Description").fill("Every notebook loses its kernel after **two minutes**.")
    page.get_by_role("button", name="Send request").click()
    expect(page.get_by_role("heading", name="Notebooks lose their kernel")).to_be_visible()
    ticket = Ticket.objects.get()
    assert (ticket.status, ticket.severity, ticket.kind) == ("new", "high", "incident")

    # an agent finds it among the unassigned tickets, takes it and replies
    desk = _second_page(browser)
    log_in(desk, live_server.url, agent.email)
    desk.get_by_role("link", name=re.compile(r"^Unassigned")).click()
    desk.get_by_role("link", name="Notebooks lose their kernel").click()
    desk.get_by_role("button", name="Assign to me").click()
    expect(desk.get_by_text("Assigned", exact=True).first).to_be_visible()
    desk.get_by_label("Message").fill("Thanks, we are looking at the culler settings.")
    desk.get_by_role("button", name="Send", exact=True).click()
    expect(desk.get_by_text("Thanks, we are looking at the culler settings.")).to_be_visible()
    desk.get_by_role("button", name="Resolve").click()
    expect(desk.get_by_text("Resolved", exact=True).first).to_be_visible()

    # the representative sees the reply and confirms
    page.reload()
    expect(page.get_by_text("Thanks, we are looking at the culler settings.")).to_be_visible()
    page.get_by_role("button", name="Confirm it is resolved").click()
    expect(page.get_by_text("is closed as resolved")).to_be_visible()
    ticket.refresh_from_db()
    assert (ticket.status, ticket.assignee) == ("closed", agent)
    assert ticket.first_responded_at is not None


def test_a_members_request_waits_until_a_representative_approves_it(page, browser, live_server):
    community = CommunityFactory.create(name="Kestrel Genomics")
    representative = MembershipFactory.create(community=community, role="representative").user
    representative.first_name, representative.last_name = "Ravi", "Rep"
    representative.save()
    member = MembershipFactory.create(community=community, role="member").user

    log_in(page, live_server.url, member.email)
    page.goto(f"{live_server.url}/portal/new/")
    page.get_by_label("Question").check()
    page.get_by_label("Low (P4)").check()
    page.get_by_label("Subject").fill("Can we get more storage?")
    page.get_by_label("Description").fill("Our group needs 200 GB more.")
    page.get_by_role("button", name="Send request").click()
    expect(page.get_by_text("waits", exact=False).first).to_be_visible()
    expect(page.get_by_text("Ravi Rep").first).to_be_visible()
    ticket = Ticket.objects.get()
    assert ticket.status == "awaiting_approval"

    approver = _second_page(browser)
    log_in(approver, live_server.url, representative.email)
    approver.goto(f"{live_server.url}/portal/approvals/")
    approver.get_by_role("button", name=f"Approve {ticket.reference}").click()
    expect(approver.get_by_text(f"{ticket.reference} is approved")).to_be_visible()

    ticket.refresh_from_db()
    assert ticket.status == "open"
    page.reload()
    expect(page.get_by_text("Open", exact=True).first).to_be_visible()


def test_the_survey_link_records_a_rating_without_signing_in(page, live_server):
    ticket = TicketFactory.create(status="resolved", subject="Quota raised")
    rating = survey_open(ticket=ticket)
    assert rating is not None

    page.goto(f"{live_server.url}/portal/survey/{survey_token(rating)}/?score=bad")
    expect(page.get_by_text("Quota raised").first).to_be_visible()
    expect(page.get_by_label("Bad: it was not handled well")).to_be_checked()
    page.get_by_label("Anything you would like to add?").fill("It took three days.")
    page.get_by_role("button", name="Send rating").click()

    expect(page.get_by_text("This survey has been answered.")).to_be_visible()
    rating = SatisfactionRating.objects.get()
    assert (rating.score, rating.comment) == ("bad", "It took three days.")
    assert rating.answered_at is not None


def test_a_second_agents_stale_reply_is_refused_with_what_changed(page, browser, live_server):
    ticket = TicketFactory.create(status="in_progress", subject="Kernel restarts")
    first = AgentFactory.create(first_name="Ada", last_name="One")
    second = AgentFactory.create(first_name="Sam", last_name="Two")

    log_in(page, live_server.url, second.email)
    page.goto(f"{live_server.url}/desk/tickets/{ticket.reference}/")
    page.get_by_label("Message").fill("Have you tried restarting the hub?")

    # meanwhile the first agent answers
    message_add(ticket=ticket, author=first, body="The node was replaced; it works again.")

    page.get_by_role("button", name="Send", exact=True).click()
    expect(
        page.get_by_role("heading", name="This ticket changed since you opened it")
    ).to_be_visible()
    expect(
        page.locator(".message-card", has_text="The node was replaced; it works again.")
    ).to_be_visible()
    assert not ticket.messages.filter(body="Have you tried restarting the hub?").exists()

    page.get_by_role("button", name="Send anyway").click()
    sent = page.locator(".message-card", has_text="Have you tried restarting the hub?")
    expect(sent).to_be_visible()
    assert (
        ticket.messages.filter(body="Have you tried restarting the hub?", author=second).count()
        == 1
    )
