"""Reads of the knowledge base, and its tenancy rule: who may read which article.

`articles_visible_to(user)` is the one scoping function. Every list, page, endpoint, search
and suggestion of articles starts from it:

- staff (active) see every article, staff-only ones and drafts included;
- a community member sees published public articles, and published articles restricted to
  a community they belong to;
- anonymous visitors see published public articles if KB_ANONYMOUS_READ is on, else nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet

from knowledgebase.models import Article, Audience, Category
from knowledgebase.states import ArticleStatus

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from core.models import User


def is_kb_staff(user: User | AnonymousUser | None) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active and user.is_staff)


def articles_visible_to(user: User | AnonymousUser | None) -> QuerySet[Article]:
    articles = Article.objects.all()
    if is_kb_staff(user):
        return articles
    published_public = Q(status=ArticleStatus.PUBLISHED, audience=Audience.PUBLIC)
    if user is None or not user.is_authenticated or not user.is_active:
        if getattr(settings, "KB_ANONYMOUS_READ", False):
            return articles.filter(published_public)
        return articles.none()
    # The user's few communities are looked up first and inlined: a literal list plans
    # better than a subquery of unknown size.
    from communities.models import Membership

    community_ids = list(
        Membership.objects.filter(user_id=user.pk).values_list("community_id", flat=True)
    )
    if not community_ids:
        return articles.filter(published_public)
    through = Article.communities.through
    restricted_to_mine = Exists(
        through.objects.filter(article_id=OuterRef("pk"), community_id__in=community_ids)
    )
    return articles.filter(
        published_public
        | Q(restricted_to_mine, status=ArticleStatus.PUBLISHED, audience=Audience.RESTRICTED)
    )


def article_list(user: User | AnonymousUser | None) -> QuerySet[Article]:
    """Articles as lists show them: what a row renders, in a fixed number of queries."""
    return articles_visible_to(user).select_related("category", "owner").defer("body", "body_html")


def article_get(*, user: User | AnonymousUser | None, pk: Any) -> Article | None:
    return (
        articles_visible_to(user)
        .select_related("category", "owner", "author", "reviewer")
        .filter(pk=pk)
        .first()
    )


def category_list() -> QuerySet[Category]:
    return Category.objects.select_related("parent").all()
