"""Reads of the search log for the desk's analytics (agents only; the page checks that).

Deflection is computed when read, never stored: a suggestion-opened article counts once
KB_DEFLECTION_DAYS have passed since it was opened without the reader opening a request in
between; "this answered my question" counts at once. A search is "followed by a ticket"
when its searcher opened a request within KB_DEFLECTION_DAYS after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Avg, Count, Exists, Max, OuterRef, Q, QuerySet
from django.utils import timezone

from knowledgebase.models import Article
from knowledgebase.search.models import SearchLog, Source
from tickets.models import Ticket


def deflection_days() -> timedelta:
    return timedelta(days=int(getattr(settings, "KB_DEFLECTION_DAYS", 7)))


def _ticket_after(field: str) -> Exists:
    return Exists(
        Ticket.objects.filter(
            requester_id=OuterRef("user_id"),
            created_at__gte=OuterRef(field),
            created_at__lt=OuterRef(field) + deflection_days(),
        )
    )


def deflected(now: datetime | None = None) -> Q:
    """The searches (annotated by `with_outcome`) that count as deflections at `now`."""
    now = now or timezone.now()
    waited = Q(
        source=Source.SUGGEST,
        user__isnull=False,
        opened_article__isnull=False,
        opened_at__lte=now - deflection_days(),
        ticket_after_open=False,
    )
    return Q(answered_at__isnull=False, opened_article__isnull=False) | waited


def with_outcome(logs: QuerySet[SearchLog]) -> QuerySet[SearchLog]:
    """`ticket_followed` (a request within the window after the search) and
    `ticket_after_open` (one within the window after the article was opened) on each row."""
    return logs.annotate(
        ticket_followed=_ticket_after("created_at"),
        ticket_after_open=_ticket_after("opened_at"),
    )


def searches(*, since: datetime, until: datetime | None = None) -> QuerySet[SearchLog]:
    logs = SearchLog.objects.filter(created_at__gte=since)
    if until is not None:
        logs = logs.filter(created_at__lt=until)
    return logs


def searches_with_outcome(*, since: datetime, now: datetime | None = None) -> QuerySet[SearchLog]:
    """The log with `ticket_followed` and `ticket_after_open` on each row."""
    return with_outcome(searches(since=since))


@dataclass(frozen=True)
class Totals:
    searches: int
    without_result: int
    opened: int
    tickets_followed: int
    deflections: int


def totals(*, since: datetime, now: datetime | None = None) -> Totals:
    logs = searches_with_outcome(since=since, now=now)
    figures = logs.aggregate(
        searches=Count("id"),
        without_result=Count("id", filter=Q(result_count=0)),
        opened=Count("id", filter=Q(opened_article__isnull=False)),
        tickets_followed=Count("id", filter=Q(ticket_followed=True)),
        deflections=Count("id", filter=deflected(now)),
    )
    return Totals(**{key: int(value or 0) for key, value in figures.items()})


@dataclass(frozen=True)
class QueryRow:
    query: str
    searches: int
    average_results: float
    opened: int
    last_searched: datetime


def top_searches(*, since: datetime, limit: int = 20) -> list[QueryRow]:
    rows = (
        searches(since=since)
        .values("normalized")
        .annotate(
            n=Count("id"),
            results=Avg("result_count"),
            opened=Count("id", filter=Q(opened_article__isnull=False)),
            last=Max("created_at"),
        )
        .order_by("-n", "normalized")[:limit]
    )
    return [
        QueryRow(
            r["normalized"], r["n"], round(float(r["results"] or 0), 1), r["opened"], r["last"]
        )
        for r in rows
    ]


def searches_without_result(*, since: datetime, limit: int = 20) -> list[QueryRow]:
    rows = (
        searches(since=since)
        .filter(result_count=0)
        .values("normalized")
        .annotate(n=Count("id"), last=Max("created_at"))
        .order_by("-n", "-last")[:limit]
    )
    return [QueryRow(r["normalized"], r["n"], 0.0, 0, r["last"]) for r in rows]


@dataclass(frozen=True)
class ArticleRow:
    article_id: int
    title: str
    deflections: int
    answered: int


def top_deflecting_articles(
    *, since: datetime, now: datetime | None = None, limit: int = 20
) -> list[ArticleRow]:
    rows = (
        with_outcome(searches(since=since))
        .filter(deflected(now))
        .values("opened_article")
        .annotate(n=Count("id"), answered=Count("id", filter=Q(answered_at__isnull=False)))
        .order_by("-n", "opened_article")[:limit]
    )
    titles = dict(
        Article.objects.filter(pk__in=[r["opened_article"] for r in rows]).values_list(
            "pk", "title"
        )
    )
    return [
        ArticleRow(r["opened_article"], titles.get(r["opened_article"], "?"), r["n"], r["answered"])
        for r in rows
    ]
