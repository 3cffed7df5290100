"""The desk's and the portal's knowledge-base pages."""

from unittest import mock

import pytest

from knowledgebase.models import Article, ArticleFeedback, Audience
from knowledgebase.states import ArticleStatus
from tests.core.factories import AgentFactory
from tests.knowledgebase.factories import ArticleFactory, KbCategoryFactory
from tests.tickets.factories import MessageFactory, TicketFactory

pytestmark = pytest.mark.django_db


def _desk_urls(article, ticket):
    a = f"/desk/kb/{article.pk}"
    return [
        ("get", "/desk/kb/", {}),
        ("get", "/desk/kb/review/", {}),
        ("get", "/desk/kb/new/", {}),
        ("post", "/desk/kb/new/", {"title": "t", "body": "b", "kind": "faq", "audience": "public"}),
        ("get", f"{a}/", {}),
        ("get", f"{a}/edit/", {}),
        ("post", f"{a}/edit/", {"title": "t", "body": "b", "kind": "faq", "audience": "public"}),
        ("post", f"{a}/transition/", {"transition": "archive"}),
        ("post", f"{a}/reviewed/", {}),
        ("get", f"{a}/history/", {}),
        ("post", f"{a}/restore/", {"version": article.history.first().history_id}),
        ("get", f"/desk/tickets/{ticket.reference}/kb/", {}),
        ("post", f"/desk/tickets/{ticket.reference}/kb/article/", {}),
    ]


@pytest.mark.parametrize("index", range(13))
def test_desk_kb_pages_are_404_for_members_and_change_nothing(client, shelf, index):
    ticket = TicketFactory.create(community=shelf["a"])
    article = shelf["for_a"]
    method, url, data = _desk_urls(article, ticket)[index]
    client.force_login(shelf["member_a"])
    response = getattr(client, method)(url, data)
    assert response.status_code == 404
    assert Article.objects.count() == 5
    article.refresh_from_db()
    assert (article.status, article.title, article.history.count()) == ("published", "For A", 1)


def test_desk_pages_render_for_agents(client, agent, shelf):
    ticket = TicketFactory.create(community=shelf["a"])
    client.force_login(agent)
    for method, url, _data in _desk_urls(shelf["draft"], ticket):
        if method == "get":
            assert client.get(url).status_code == 200, url


def test_the_desk_list_takes_a_fixed_number_of_queries(client, agent, django_assert_num_queries):
    client.force_login(agent)
    for _ in range(3):
        ArticleFactory.create(category=KbCategoryFactory.create())
    client.get("/desk/kb/")
    for _ in range(5):
        ArticleFactory.create(category=KbCategoryFactory.create())
    # session, user, the filter form's categories, the page of articles (+ nav partials none)
    with django_assert_num_queries(4):
        response = client.get("/desk/kb/")
    assert response.content.decode().count("/desk/kb/") >= 8


def test_the_editor_creates_a_draft_and_sends_it_for_review(client, agent):
    client.force_login(agent)
    response = client.post(
        "/desk/kb/new/",
        {"title": "Escalate a ticket", "body": "# Steps\n\n1. Open it", "kind": "how_to",
         "audience": "public", "tags": "escalation, tiers", "then": "submit"},
    )  # fmt: skip
    article = Article.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/desk/kb/{article.pk}/"
    assert (article.status, article.tags) == (ArticleStatus.IN_REVIEW, ["escalation", "tiers"])


def test_the_editor_shows_refusals_and_writes_nothing(client, agent):
    client.force_login(agent)
    response = client.post(
        "/desk/kb/new/", {"title": "t", "body": "b", "kind": "faq", "audience": "restricted"}
    )
    assert response.status_code == 400
    assert "names the communities" in response.content.decode()
    assert Article.objects.count() == 0


def test_the_author_cannot_approve_from_the_desk(client, agent):
    article = ArticleFactory.create(author=agent, status=ArticleStatus.IN_REVIEW)
    client.force_login(agent)
    page = client.get(f"/desk/kb/{article.pk}/").content.decode()
    assert "You wrote it: another agent reviews it." in page
    response = client.post(f"/desk/kb/{article.pk}/transition/", {"transition": "approve"})
    assert response.status_code == 409
    article.refresh_from_db()
    assert article.status == ArticleStatus.IN_REVIEW
    client.force_login(AgentFactory.create())
    response = client.post(f"/desk/kb/{article.pk}/transition/", {"transition": "approve"})
    assert response.status_code == 302
    article.refresh_from_db()
    assert article.status == ArticleStatus.PUBLISHED


def test_history_shows_the_diff_and_restores(client, agent):
    client.force_login(agent)
    client.post("/desk/kb/new/", {"title": "Old title", "body": "line one\nline two",
                                  "kind": "faq", "audience": "public"})  # fmt: skip
    article = Article.objects.get()
    first = article.history.first().history_id
    client.post(f"/desk/kb/{article.pk}/edit/", {"title": "New title", "body": "line one\nline 2",
                                                 "kind": "faq", "audience": "public"})  # fmt: skip
    page = client.get(f"/desk/kb/{article.pk}/history/").content.decode()
    assert '<span class="diff-del">- line two</span>' in page
    assert '<span class="diff-add">+ line 2</span>' in page
    assert '<span class="diff-add">+ New title</span>' in page
    assert client.get(f"/desk/kb/{article.pk}/history/?version=1x").status_code == 404
    client.post(f"/desk/kb/{article.pk}/restore/", {"version": first})
    article.refresh_from_db()
    assert (article.title, article.body) == ("Old title", "line one\nline two")


def test_the_review_queue_lists_waiting_and_overdue_articles(client, agent):
    from datetime import date

    ArticleFactory.create(title="Waiting one", status=ArticleStatus.IN_REVIEW)
    ArticleFactory.create(title="Stale one", review_by=date(2020, 1, 1))
    ArticleFactory.create(title="Fresh one", review_by=date(2999, 1, 1))
    client.force_login(agent)
    page = client.get("/desk/kb/review/").content.decode()
    assert "Waiting one" in page
    assert "Stale one" in page
    assert "Fresh one" not in page


def test_the_ticket_panel_suggests_articles_and_offers_links_only_the_community_may_read(
    client, agent, shelf
):
    from knowledgebase.search.services import Hit

    ticket = TicketFactory.create(community=shelf["a"], subject="Password reset")
    client.force_login(agent)
    assert "kb-suggestions" in client.get(f"/desk/tickets/{ticket.reference}/").content.decode()
    hits = [
        Hit(article_id=shelf[n].pk, title=shelf[n].title, slug=shelf[n].slug, summary="",
            kind="faq", category=None, score=1.0, lexical=1.0, semantic=None)
        for n in ("for_a", "for_b", "staff")
    ]  # fmt: skip
    with mock.patch("web.desk.views.kb._suggested", return_value=hits):
        page = client.get(f"/desk/tickets/{ticket.reference}/kb/").content.decode()
    assert page.count("Insert link in reply") == 1
    assert "[For A](" in page
    assert page.count("Not readable by this ticket") == 2


def test_create_an_article_from_the_ticket_page(client, agent):
    ticket = TicketFactory.create(subject="Webhook retries")
    MessageFactory.create(ticket=ticket, author=agent, body="Retries back off to one hour.")
    client.force_login(agent)
    response = client.post(f"/desk/tickets/{ticket.reference}/kb/article/")
    article = Article.objects.get()
    assert response["Location"] == f"/desk/kb/{article.pk}/"
    assert article.status == ArticleStatus.IN_REVIEW
    assert "Retries back off to one hour." in article.body


# ---------------------------------------------------------------- portal


@pytest.mark.parametrize("name", ["for_b", "staff", "draft"])
def test_portal_article_pages_are_404_for_what_is_not_the_readers(client, shelf, name):
    client.force_login(shelf["member_a"])
    slug = shelf[name].slug
    assert client.get(f"/portal/kb/{slug}/").status_code == 404
    assert client.post(f"/portal/kb/{slug}/feedback/", {"helpful": "yes"}).status_code == 404
    assert client.post(f"/portal/kb/{slug}/answered/", {"s": "1"}).status_code == 404
    assert ArticleFeedback.objects.count() == 0
    assert Article.objects.get(slug=slug).view_count == 0


def test_the_portal_home_shows_only_the_readers_articles(client, shelf):
    category = KbCategoryFactory.create(name="Access")
    Article.objects.update(category=category)
    client.force_login(shelf["member_a"])
    page = client.get("/portal/kb/").content.decode()
    assert "For A" in page
    assert "Public" in page
    for hidden in ("For B", "Staff", "Draft"):
        assert hidden not in page
    page = client.get(f"/portal/kb/categories/{category.slug}/").content.decode()
    assert "For A" in page
    assert "For B" not in page


def test_portal_pages_need_sign_in_unless_anonymous_reading_is_on(client, shelf, settings):
    settings.KB_ANONYMOUS_READ = False
    assert client.get("/portal/kb/public/").status_code == 302
    settings.KB_ANONYMOUS_READ = True
    assert client.get("/portal/kb/public/").status_code == 200
    assert client.get("/portal/kb/for-a/").status_code == 404


def test_a_view_is_counted_once_per_session(client, shelf):
    client.force_login(shelf["member_a"])
    client.get("/portal/kb/for-a/")
    client.get("/portal/kb/for-a/")
    shelf["for_a"].refresh_from_db()
    assert shelf["for_a"].view_count == 1


def test_was_this_helpful_records_the_vote(client, shelf):
    client.force_login(shelf["member_a"])
    response = client.post("/portal/kb/for-a/feedback/", {"helpful": "no", "comment": "Outdated"})
    assert response.status_code == 302
    vote = ArticleFeedback.objects.get()
    assert (vote.user, vote.helpful, vote.comment) == (shelf["member_a"], False, "Outdated")
    assert client.post("/portal/kb/for-a/feedback/", {"helpful": "maybe"}).status_code == 302
    assert ArticleFeedback.objects.count() == 1


def test_suggestions_show_only_readable_articles(client, shelf):
    from knowledgebase.search.services import SearchResult

    client.force_login(shelf["member_a"])
    with mock.patch("knowledgebase.search.services.suggest") as suggest:
        suggest.return_value = SearchResult(query="x", mode="blend", hits=[], total=0, page=1,
                                            page_size=3, search_id=None)  # fmt: skip
        assert client.get("/portal/kb/suggest/?subject=ab").content.decode().strip() == ""
        suggest.assert_not_called()
        client.get("/portal/kb/suggest/?subject=password&description=reset it")
        assert suggest.call_args.kwargs["q"] == "password reset it"
        assert suggest.call_args.kwargs["user"] == shelf["member_a"]


def test_the_pages_do_not_render_restricted_articles_for_other_members(client, shelf):
    """The article page of one community's restricted article is not reachable by id or
    slug for a member of another community."""
    client.force_login(shelf["member_b"])
    assert client.get("/portal/kb/for-a/").status_code == 404
    assert client.get("/portal/kb/for-b/").status_code == 200
    assert shelf["for_a"].audience == Audience.RESTRICTED


def test_the_portal_home_takes_a_fixed_number_of_queries(client, shelf):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    parent = KbCategoryFactory.create(name="Access")
    child = KbCategoryFactory.create(name="Passwords", parent=parent)
    client.force_login(shelf["member_a"])
    client.get("/portal/kb/")
    counts = []
    for _ in range(2):
        for n in range(6):
            ArticleFactory.create(category=child if n % 2 else parent)
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/portal/kb/")
        assert response.status_code == 200
        counts.append(len(queries))
    # session, user, the portal's place and incident banner, the reader's communities, the
    # articles, the top and the child categories: the same however many articles there are.
    assert counts == [10, 10]
    assert response.content.decode().count('href="/portal/kb/article-') == 8  # 8 per shelf


def test_live_suggestions_never_offer_another_communitys_article(client, shelf):
    """Through the real search service: both restricted articles match the words typed,
    only the reader's own community's is offered."""
    from knowledgebase.services import article_update

    agent = AgentFactory.create()
    for name in ("for_a", "for_b", "staff", "draft"):
        article_update(
            article=shelf[name], actor=agent,
            data={"title": f"Renew the VPN certificate ({name})", "body": "Open Settings."},
        )  # fmt: skip
    client.force_login(shelf["member_a"])
    page = client.get("/portal/kb/suggest/?subject=renew vpn certificate").content.decode()
    assert "(for_a)" in page
    for hidden in ("(for_b)", "(staff)", "(draft)"):
        assert hidden not in page
