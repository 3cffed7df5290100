"""GET /api/v1/kb/search/ and /api/v1/kb/suggest/, and the search log's two endpoints."""

from __future__ import annotations

import pytest

from knowledgebase.models import Audience
from knowledgebase.search.models import SearchLog
from knowledgebase.states import ArticleStatus
from tests.communities.factories import CommunityFactory, MembershipFactory
from tests.knowledgebase.factories import ArticleFactory

pytestmark = pytest.mark.django_db

SEARCH = "/api/v1/kb/search/"
SUGGEST = "/api/v1/kb/suggest/"


@pytest.fixture
def articles(community):
    other = CommunityFactory.create()
    return {
        "public": ArticleFactory.create(title="Printer queue stuck", slug="public"),
        "staff": ArticleFactory.create(
            title="Printer queue internals", slug="staff", audience=Audience.STAFF
        ),
        "ours": ArticleFactory.create(
            title="Printer queue for our lab", slug="ours", audience=Audience.RESTRICTED,
            communities=[community],
        ),
        "theirs": ArticleFactory.create(
            title="Printer queue for their lab", slug="theirs", audience=Audience.RESTRICTED,
            communities=[other],
        ),
        "draft": ArticleFactory.create(
            title="Printer queue draft", slug="draft", status=ArticleStatus.DRAFT
        ),
    }  # fmt: skip


def slugs(response):
    return sorted(hit["slug"] for hit in response.json()["results"])


def test_a_member_finds_public_and_their_communitys_articles_only(api_as, member, articles):
    response = api_as(member).get(SEARCH, {"q": "printer queue"})
    assert response.status_code == 200
    assert slugs(response) == ["ours", "public"]
    assert response.json()["count"] == 2


def test_a_member_of_another_community_never_receives_a_restricted_article(api_as, articles):
    stranger = MembershipFactory.create().user
    assert slugs(api_as(stranger).get(SEARCH, {"q": "printer queue"})) == ["public"]
    assert slugs(api_as(stranger).get(SUGGEST, {"q": "printer qu"})) == ["public"]
    assert slugs(api_as(stranger).get(SEARCH, {"q": "their lab"})) == []


def test_agents_find_staff_articles_but_never_drafts(api_as, agent, articles):
    assert slugs(api_as(agent).get(SEARCH, {"q": "printer queue"})) == [
        "ours", "public", "staff", "theirs",
    ]  # fmt: skip


def test_suggest_returns_at_most_three(api_as, agent, articles):
    response = api_as(agent).get(SUGGEST, {"q": "printer que"})
    assert response.status_code == 200
    assert len(response.json()["results"]) == 3
    assert set(response.json()["results"][0]) == {
        "id",
        "title",
        "slug",
        "summary",
        "kind",
        "category",
    }


def test_suggestions_have_the_documented_shape(api_as, member, articles):
    from knowledgebase.search import services
    from knowledgebase.search.api.serializers import SuggestResultSerializer

    body = api_as(member).get(SUGGEST, {"q": "printer que"}).json()
    result = services.suggest(user=member, q="printer que", log=False)

    assert body["results"]
    assert body == {**SuggestResultSerializer(result).data, "search_id": body["search_id"]}


@pytest.mark.parametrize("url", [SEARCH, SUGGEST])
@pytest.mark.parametrize(
    ("q", "message"),
    [
        ("", "Type something to search for."),
        ("   ", "Type something to search for."),
        ("x" * 201, "A search is at most 200 characters (201 given)."),
    ],
)
def test_an_empty_or_oversized_query_is_a_400_and_logs_nothing(api_as, member, url, q, message):
    response = api_as(member).get(url, {"q": q})
    assert response.status_code == 400
    assert response.json()["errors"] == [{"code": "invalid_query", "detail": message, "attr": "q"}]
    assert SearchLog.objects.count() == 0


def test_an_unknown_category_is_a_400(api_as, member):
    response = api_as(member).get(SEARCH, {"q": "printer", "category": "nope"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "category"


def test_a_category_scopes_the_search_to_it_and_its_children(api_as, agent, articles):
    category = articles["public"].category
    response = api_as(agent).get(SEARCH, {"q": "printer", "category": category.slug})
    assert slugs(response) == ["public"]


def test_anonymous_callers_are_refused_unless_anonymous_reading_is_on(api_as, articles, settings):
    api_client = api_as(None)
    settings.KB_ANONYMOUS_READ = False
    assert api_client.get(SEARCH, {"q": "printer"}).status_code in (401, 403)
    settings.KB_ANONYMOUS_READ = True
    assert slugs(api_client.get(SEARCH, {"q": "printer queue"})) == ["public"]


def test_pages_follow_each_other(api_as, agent, db):
    for n in range(12):
        ArticleFactory.create(title=f"Laptop battery tip {n:02}", slug=f"tip-{n:02}")
    first = api_as(agent).get(SEARCH, {"q": "laptop battery", "page_size": 5}).json()
    third = api_as(agent).get(SEARCH, {"q": "laptop battery", "page_size": 5, "page": 3}).json()
    assert (first["count"], first["has_next"], len(first["results"])) == (12, True, 5)
    assert (third["has_next"], len(third["results"])) == (False, 2)


def test_the_search_is_logged_and_the_opened_article_recorded(api_as, member, articles):
    client = api_as(member)
    body = client.get(SEARCH, {"q": "printer queue"}).json()
    log = SearchLog.objects.get()
    assert (log.query, log.result_count, log.source, log.user) == (
        "printer queue",
        2,
        "search",
        member,
    )
    assert body["search_id"] == log.pk
    url = f"/api/v1/kb/searches/{log.pk}/opened/"
    assert client.post(url, {"article": articles["public"].pk}).status_code == 204
    log.refresh_from_db()
    assert log.opened_article == articles["public"]


def test_someone_elses_search_or_an_unreadable_article_is_a_404_and_changes_nothing(
    api_as, member, articles
):
    log_id = api_as(member).get(SEARCH, {"q": "printer"}).json()["search_id"]
    stranger = MembershipFactory.create().user
    url = f"/api/v1/kb/searches/{log_id}/answered/"
    assert api_as(stranger).post(url, {"article": articles["public"].pk}).status_code == 404
    assert api_as(member).post(url, {"article": articles["theirs"].pk}).status_code == 404
    log = SearchLog.objects.get(pk=log_id)
    assert (log.opened_article, log.answered_at) == (None, None)
