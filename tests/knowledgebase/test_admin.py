"""The admin: categories and articles with history; articles saved through the services."""

from __future__ import annotations

import pytest

from core.models import User
from knowledgebase.models import Article
from knowledgebase.states import ArticleStatus
from tests.core.factories import AgentFactory
from tests.knowledgebase.factories import ArticleFactory, KbCategoryFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(client):
    user = User.objects.create_superuser("root@desk.example", "pw")
    client.force_login(user)
    return user


def test_the_admin_pages_render(client, admin):
    category = KbCategoryFactory.create()
    article = ArticleFactory.create(category=category)
    for url in (
        "/admin/knowledgebase/article/",
        "/admin/knowledgebase/article/add/",
        f"/admin/knowledgebase/article/{article.pk}/change/",
        f"/admin/knowledgebase/article/{article.pk}/history/",
        "/admin/knowledgebase/category/",
        f"/admin/knowledgebase/category/{category.pk}/history/",
        "/admin/knowledgebase/articlefeedback/",
        "/admin/knowledgebase/reviewreminder/",
    ):
        assert client.get(url).status_code == 200, url


def test_an_article_added_in_the_admin_is_a_draft_written_through_the_service(client, admin):
    category = KbCategoryFactory.create()
    response = client.post(
        "/admin/knowledgebase/article/add/",
        {"title": "Rotate keys", "slug": "rotate-keys", "summary": "", "body": "Every **90** days.",
         "kind": "how_to", "audience": "public", "category": category.pk, "tags": "keys,security",
         "owner": admin.pk, "review_by": ""},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    article = Article.objects.get()
    assert (article.status, article.author, article.tags) == (
        ArticleStatus.DRAFT, admin, ["keys", "security"]
    )  # fmt: skip
    assert article.body_html == "<p>Every <strong>90</strong> days.</p>\n"
    assert article.review_by is not None  # an interval from today, as any new article
    assert article.history.get().history_user == admin


def test_the_publish_action_keeps_the_reviewer_rule(client, admin):
    own = ArticleFactory.create(status=ArticleStatus.IN_REVIEW, author=admin)
    other = ArticleFactory.create(status=ArticleStatus.IN_REVIEW, author=AgentFactory.create())
    client.post(
        "/admin/knowledgebase/article/",
        {"action": "approve", "_selected_action": [own.pk, other.pk]},
    )
    own.refresh_from_db()
    other.refresh_from_db()
    assert (own.status, other.status) == (ArticleStatus.IN_REVIEW, ArticleStatus.PUBLISHED)
