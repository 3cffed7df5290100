import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection

from knowledgebase.models import Audience
from knowledgebase.selectors import articles_visible_to, published_ids_sql
from knowledgebase.states import ArticleStatus
from tests.communities.factories import CommunityFactory, MembershipFactory
from tests.core.factories import AgentFactory, UserFactory
from tests.knowledgebase.factories import ArticleFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def shelf():
    a, b = CommunityFactory.create(), CommunityFactory.create()
    articles = {
        "public": ArticleFactory.create(),
        "public_draft": ArticleFactory.create(status=ArticleStatus.DRAFT),
        "public_in_review": ArticleFactory.create(status=ArticleStatus.IN_REVIEW),
        "public_archived": ArticleFactory.create(status=ArticleStatus.ARCHIVED),
        "staff": ArticleFactory.create(audience=Audience.STAFF),
        "for_a": ArticleFactory.create(audience=Audience.RESTRICTED, communities=[a]),
        "for_b": ArticleFactory.create(audience=Audience.RESTRICTED, communities=[b]),
        "for_a_and_b": ArticleFactory.create(audience=Audience.RESTRICTED, communities=[a, b]),
        "for_a_draft": ArticleFactory.create(
            audience=Audience.RESTRICTED, communities=[a], status=ArticleStatus.DRAFT
        ),
        "restricted_to_nobody": ArticleFactory.create(audience=Audience.RESTRICTED),
    }
    return a, b, articles


def _visible(user, articles):
    ids = set(articles_visible_to(user).values_list("pk", flat=True))
    return {name for name, article in articles.items() if article.pk in ids}


def test_staff_see_every_article(shelf):
    _, _, articles = shelf
    assert _visible(AgentFactory.create(), articles) == set(articles)


def test_a_member_of_a_sees_published_public_and_published_restricted_to_a(shelf):
    a, _, articles = shelf
    member = MembershipFactory.create(community=a).user
    assert _visible(member, articles) == {"public", "for_a", "for_a_and_b"}


def test_a_member_of_b_never_sees_what_is_restricted_to_a(shelf):
    _, b, articles = shelf
    member = MembershipFactory.create(community=b, role="representative").user
    assert _visible(member, articles) == {"public", "for_b", "for_a_and_b"}


def test_a_member_of_both_sees_both_without_duplicates(shelf):
    a, b, articles = shelf
    user = MembershipFactory.create(community=a).user
    MembershipFactory.create(community=b, user=user)
    assert _visible(user, articles) == {"public", "for_a", "for_b", "for_a_and_b"}
    assert articles_visible_to(user).count() == 4


def test_a_signed_in_user_of_no_community_sees_published_public_only(shelf):
    _, _, articles = shelf
    assert _visible(UserFactory.create(), articles) == {"public"}


def test_an_inactive_staff_user_is_no_staff(shelf):
    _, _, articles = shelf
    assert _visible(AgentFactory.create(is_active=False), articles) == set()


def test_anonymous_readers_see_public_articles_only_when_the_setting_allows(shelf, settings):
    _, _, articles = shelf
    settings.KB_ANONYMOUS_READ = False
    assert _visible(AnonymousUser(), articles) == set()
    assert _visible(None, articles) == set()
    settings.KB_ANONYMOUS_READ = True
    assert _visible(AnonymousUser(), articles) == {"public"}


def _published_by_sql(user, articles, category_ids=None):
    sql, params = published_ids_sql(user, category_ids)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        ids = {row[0] for row in cursor.fetchall()}
    return {name for name, article in articles.items() if article.pk in ids}


def test_the_search_s_sql_is_the_same_rule_on_published_articles(shelf, settings):
    a, b, articles = shelf
    member_of_a = MembershipFactory.create(community=a).user
    member_of_b = MembershipFactory.create(community=b).user
    settings.KB_ANONYMOUS_READ = True
    for user in (AgentFactory.create(), member_of_a, member_of_b, UserFactory.create(), None):
        published = {
            name for name in _visible(user, articles) if articles[name].status == "published"
        }
        assert _published_by_sql(user, articles) == published


def test_the_search_s_sql_for_a_reader_who_may_read_nothing_selects_nothing(shelf, settings):
    _, _, articles = shelf
    settings.KB_ANONYMOUS_READ = False
    assert _published_by_sql(None, articles) == set()
    assert _published_by_sql(AnonymousUser(), articles) == set()


def test_the_kept_sql_reads_the_communities_a_member_has_now(shelf):
    a, b, articles = shelf
    user = MembershipFactory.create(community=a).user
    assert _published_by_sql(user, articles) == {"public", "for_a", "for_a_and_b"}
    MembershipFactory.create(community=b, user=user)
    assert _published_by_sql(user, articles) == {"public", "for_a", "for_b", "for_a_and_b"}
    other = MembershipFactory.create(community=b).user
    assert _published_by_sql(other, articles) == {"public", "for_b", "for_a_and_b"}


def test_the_search_s_sql_keeps_to_the_categories_given(shelf):
    a, _, articles = shelf
    user = MembershipFactory.create(community=a).user
    # Each article has a category of its own.
    assert _published_by_sql(user, articles, [articles["for_a"].category_id]) == {"for_a"}
    assert _published_by_sql(user, articles, [articles["for_b"].category_id]) == set()
