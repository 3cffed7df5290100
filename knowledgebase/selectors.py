"""Reads of the knowledge base, and its tenancy rule: who may read which article.

`articles_visible_to(user)` is the one scoping function. Every list, page, endpoint, search
and suggestion of articles starts from it:

- staff (active) see every article, staff-only ones and drafts included;
- a community member sees published public articles, and published articles restricted to
  a community they belong to;
- anonymous visitors see published public articles if KB_ANONYMOUS_READ is on, else nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db.models import Exists, OuterRef, Q, QuerySet

from knowledgebase.models import Article, Audience, Category
from knowledgebase.states import ArticleStatus

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from core.models import User


def is_kb_staff(user: User | AnonymousUser | None) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active and user.is_staff)


def _reader(user: User | AnonymousUser | None, *, inline: bool = True) -> tuple[Any, ...]:
    """Everything the rule below depends on, as a value: ("staff",), ("anonymous", may read
    public articles), ("member", the ids of the user's communities), or with `inline` off
    ("member of", the user's id): the communities read by a subquery."""
    if is_kb_staff(user):
        return ("staff",)
    if user is None or not user.is_authenticated or not user.is_active:
        return ("anonymous", bool(getattr(settings, "KB_ANONYMOUS_READ", False)))
    if not inline:
        return ("member of", user.pk)
    # The user's few communities are looked up first and inlined: a literal list plans
    # better than a subquery of unknown size.
    from communities.models import Membership

    community_ids = Membership.objects.filter(user_id=user.pk).values_list(
        "community_id", flat=True
    )
    return ("member", tuple(sorted(community_ids)))


def _articles_for(reader: tuple[Any, ...]) -> QuerySet[Article]:
    articles = Article.objects.all()
    if reader[0] == "staff":
        return articles
    published_public = Q(status=ArticleStatus.PUBLISHED, audience=Audience.PUBLIC)
    if reader[0] == "anonymous":
        return articles.filter(published_public) if reader[1] else articles.none()
    through = Article.communities.through
    if reader[0] == "member of":
        from communities.models import Membership

        mine = through.objects.filter(
            article_id=OuterRef("pk"),
            community_id__in=Membership.objects.filter(user_id=reader[1]).values("community_id"),
        )
    else:
        if not reader[1]:
            return articles.filter(published_public)
        mine = through.objects.filter(article_id=OuterRef("pk"), community_id__in=reader[1])
    return articles.filter(
        published_public
        | Q(Exists(mine), status=ArticleStatus.PUBLISHED, audience=Audience.RESTRICTED)
    )


def articles_visible_to(user: User | AnonymousUser | None) -> QuerySet[Article]:
    return _articles_for(_reader(user))


# Stands for the user's id while the "member of" SQL is compiled once for every member.
_ANY_MEMBER = -8_000_000_000_000_000_001


def published_ids_sql(
    user: User | AnonymousUser | None, category_ids: Sequence[int] | None = None
) -> tuple[str, tuple[Any, ...]]:
    """`SELECT id` of the published articles `user` may read (in these categories when
    given), as SQL and parameters for the search to embed in its statement: the rule of
    `articles_visible_to`, with the user's communities read by a subquery (one round trip
    fewer; the search applies it to a few hundred candidate rows at most). Compiled once
    per kind of reader and kept: compiling the queryset cost more than running it."""
    reader = _reader(user, inline=False)
    categories = None if category_ids is None else tuple(sorted(category_ids))
    if reader[0] != "member of":
        return _published_ids_sql(reader, categories)
    sql, params = _published_ids_sql(("member of", _ANY_MEMBER), categories)
    if params.count(_ANY_MEMBER) != 1:
        raise RuntimeError("The member's id is not a parameter of the compiled SQL.")
    return sql, tuple(reader[1] if p == _ANY_MEMBER else p for p in params)


@functools.lru_cache(maxsize=256)
def _published_ids_sql(
    reader: tuple[Any, ...], category_ids: tuple[int, ...] | None
) -> tuple[str, tuple[Any, ...]]:
    articles = _articles_for(reader).filter(status=ArticleStatus.PUBLISHED)
    if category_ids is not None:
        articles = articles.filter(category_id__in=category_ids)
    try:
        sql, params = articles.order_by().values("pk").query.sql_with_params()
    except EmptyResultSet:  # a reader who may read nothing (anonymous, reading switched off)
        return "SELECT NULL::bigint WHERE false", ()
    return sql, tuple(params)


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
