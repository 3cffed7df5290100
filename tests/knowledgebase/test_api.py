import pytest

from knowledgebase.models import Article, ArticleFeedback, Audience
from knowledgebase.states import ArticleStatus
from tests.core.factories import AgentFactory
from tests.knowledgebase.factories import ArticleFactory, KbCategoryFactory
from tests.tickets.factories import MessageFactory, TicketFactory

pytestmark = pytest.mark.django_db

ARTICLES = "/api/v1/kb/articles/"


def _titles(response):
    return sorted(a["title"] for a in response.json()["results"])


def test_each_reader_lists_exactly_what_their_audience_allows(api_as, shelf, agent):
    assert _titles(api_as(shelf["member_a"]).get(ARTICLES)) == ["For A", "Public"]
    assert _titles(api_as(shelf["member_b"]).get(ARTICLES)) == ["For B", "Public"]
    assert _titles(api_as(agent).get(ARTICLES)) == ["Draft", "For A", "For B", "Public", "Staff"]


def test_anonymous_reading_follows_the_setting(api_as, shelf, settings):
    settings.KB_ANONYMOUS_READ = False
    assert api_as(None).get(ARTICLES).status_code in (401, 403)
    settings.KB_ANONYMOUS_READ = True
    assert _titles(api_as(None).get(ARTICLES)) == ["Public"]
    assert api_as(None).get(f"{ARTICLES}{shelf['for_a'].pk}/").status_code == 404
    response = api_as(None).post(f"{ARTICLES}{shelf['public'].pk}/feedback/", {"helpful": True})
    assert response.status_code in (401, 403)


@pytest.mark.parametrize("name", ["for_b", "staff", "draft"])
def test_a_member_of_a_gets_404_for_anything_not_theirs_and_nothing_changes(api_as, shelf, name):
    client = api_as(shelf["member_a"])
    article = shelf[name]
    base = f"{ARTICLES}{article.pk}/"
    assert client.get(base).status_code == 404
    assert client.post(f"{base}feedback/", {"helpful": True}).status_code == 404
    assert client.patch(base, {"title": "Mine"}).status_code == 404
    assert client.post(f"{base}transitions/", {"transition": "archive"}).status_code == 404
    assert client.get(f"{base}versions/").status_code == 404
    article.refresh_from_db()
    assert (article.title, article.helpful_yes) == (
        name.replace("_", " ").title() if name != "for_b" else "For B",
        0,
    )
    assert ArticleFeedback.objects.count() == 0


def test_members_read_but_do_not_write_what_they_see(api_as, shelf):
    client = api_as(shelf["member_a"])
    base = f"{ARTICLES}{shelf['for_a'].pk}/"
    detail = client.get(base).json()
    assert detail["body_html"] == "<p>Some <strong>useful</strong> text.</p>\n"
    assert "status" not in detail
    assert "audience" not in detail
    assert client.patch(base, {"title": "Mine"}).status_code == 403
    assert client.post(f"{base}transitions/", {"transition": "archive"}).status_code == 403
    assert client.post(ARTICLES, {"title": "t", "body": "b"}).status_code == 403
    assert Article.objects.filter(title="Mine").count() == 0


def test_feedback_through_the_api_counts_once_per_reader(api_as, shelf):
    client = api_as(shelf["member_a"])
    url = f"{ARTICLES}{shelf['for_a'].pk}/feedback/"
    assert client.post(url, {"helpful": True, "comment": "Clear"}).status_code == 201
    assert client.post(url, {"helpful": False}).status_code == 201
    shelf["for_a"].refresh_from_db()
    assert (shelf["for_a"].helpful_yes, shelf["for_a"].helpful_no) == (0, 1)
    assert client.post(url, {"comment": "no vote"}).status_code == 400
    assert client.get(url).status_code == 403


def test_agents_write_through_the_workflow(api_as, agent, shelf):
    category = KbCategoryFactory.create(slug="access")
    response = api_as(agent).post(
        ARTICLES,
        {"title": "Reset a password", "body": "Use **Forgot password**.", "category": "access",
         "audience": "restricted", "communities": [shelf["a"].slug], "tags": ["password"]},
    )  # fmt: skip
    assert response.status_code == 201, response.json()
    data = response.json()
    assert (data["status"], data["slug"], data["category"]) == (
        "draft",
        "reset-a-password",
        "access",
    )
    assert data["communities"] == [shelf["a"].slug]
    url = f"{ARTICLES}{data['id']}/"
    assert api_as(agent).post(f"{url}transitions/", {"transition": "submit"}).status_code == 200
    refused = api_as(agent).post(f"{url}transitions/", {"transition": "approve"})
    assert refused.status_code == 409
    assert refused.json()["errors"][0]["code"] == "reviewer_must_differ"
    reviewer = AgentFactory.create()
    published = api_as(reviewer).post(f"{url}transitions/", {"transition": "approve"})
    assert published.status_code == 200
    assert published.json()["status"] == "published"
    assert published.json()["reviewer"]["id"] == reviewer.pk
    assert category.articles.count() == 1
    # Now member A reads it; member B does not.
    assert api_as(shelf["member_a"]).get(url).status_code == 200
    assert api_as(shelf["member_b"]).get(url).status_code == 404


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"title": "", "body": "b"}, "title"),
        ({"title": "t"}, "body"),
        ({"title": "t", "body": "b", "category": "nope"}, "category"),
        (
            {"title": "t", "body": "b", "communities": ["nope"], "audience": "restricted"},
            "communities",
        ),
        ({"title": "t", "body": "b", "audience": "restricted"}, "communities"),
        ({"title": "t", "body": "b", "kind": "poem"}, "kind"),
        ({"title": "t", "body": "b", "owner": 999999}, "owner"),
        ({"title": "t", "body": "b", "linked_tickets": ["SD-1"]}, "linked_tickets"),
    ],
)
def test_bad_input_is_400_with_the_field_and_nothing_is_written(api_as, agent, payload, field):
    response = api_as(agent).post(ARTICLES, payload)
    assert response.status_code == 400
    assert {e["attr"] for e in response.json()["errors"]} == {field}
    assert Article.objects.count() == 0


def test_illegal_transitions_are_409_and_change_nothing(api_as, agent):
    article = ArticleFactory.create(status=ArticleStatus.DRAFT)
    response = api_as(agent).post(f"{ARTICLES}{article.pk}/transitions/", {"transition": "approve"})
    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == "invalid_transition"
    unknown = api_as(agent).post(f"{ARTICLES}{article.pk}/transitions/", {"transition": "fly"})
    assert unknown.status_code == 400
    article.refresh_from_db()
    assert article.status == ArticleStatus.DRAFT


def test_unknown_filters_are_400(api_as, agent):
    assert api_as(agent).get(f"{ARTICLES}?category=nope").status_code == 400
    assert api_as(agent).get(f"{ARTICLES}?kind=poem").status_code == 400
    assert api_as(agent).get(f"{ARTICLES}?status=gone").status_code == 400


def test_filters_by_category_kind_and_tag(api_as, agent):
    category = KbCategoryFactory.create(slug="sla")
    ArticleFactory.create(title="In SLA", category=category, kind="how_to", tags=["uptime"])
    ArticleFactory.create(title="Elsewhere")
    client = api_as(agent)
    assert _titles(client.get(f"{ARTICLES}?category=sla")) == ["In SLA"]
    assert _titles(client.get(f"{ARTICLES}?kind=how_to")) == ["In SLA"]
    assert _titles(client.get(f"{ARTICLES}?tag=Uptime")) == ["In SLA"]


def test_versions_and_restore(api_as, agent):
    response = api_as(agent).post(ARTICLES, {"title": "One", "body": "first"})
    url = f"{ARTICLES}{response.json()['id']}/"
    api_as(agent).patch(url, {"title": "Two", "body": "second"})
    versions = api_as(agent).get(f"{url}versions/").json()
    assert [v["title"] for v in versions] == ["Two", "One"]
    assert api_as(agent).post(f"{url}restore/", {"version": 999999}).status_code == 404
    restored = api_as(agent).post(f"{url}restore/", {"version": versions[1]["version"]})
    assert restored.json()["title"] == "One"
    assert restored.json()["body"] == "first"


def test_an_article_from_a_ticket(api_as, agent):
    ticket = TicketFactory.create(subject="Export fails")
    MessageFactory.create(ticket=ticket, author=agent, body="Use CSV instead.")
    response = api_as(agent).post(f"{ARTICLES}from-ticket/", {"ticket": ticket.reference})
    assert response.status_code == 201
    assert (response.json()["status"], response.json()["audience"]) == ("in_review", "staff")
    assert response.json()["linked_tickets"] == [ticket.reference]
    assert api_as(agent).post(f"{ARTICLES}from-ticket/", {"ticket": "SD-1"}).status_code == 400


def test_categories_are_listed_in_order(api_as, member):
    parent = KbCategoryFactory.create(name="Access", slug="access", position=1)
    KbCategoryFactory.create(name="Billing", slug="billing", position=0)
    KbCategoryFactory.create(name="Passwords", slug="passwords", parent=parent, position=0)
    data = api_as(member).get("/api/v1/kb/categories/").json()
    assert [(c["slug"], c["parent"]) for c in data] == [
        ("billing", None),
        ("passwords", "access"),
        ("access", None),
    ]


@pytest.mark.parametrize("staff", [False, True])
def test_the_list_takes_a_fixed_number_of_queries(
    api_as, agent, shelf, staff, django_assert_num_queries
):
    user = agent if staff else shelf["member_a"]
    client = api_as(user)
    client.get(ARTICLES)  # warm the token
    for _ in range(5):
        ArticleFactory.create(audience=Audience.RESTRICTED, communities=[shelf["a"], shelf["b"]])
    # The token with its user; then the member's communities, or the agent's prefetch of
    # the articles' communities; and the page.
    with django_assert_num_queries(3):
        response = client.get(ARTICLES)
    assert response.status_code == 200
