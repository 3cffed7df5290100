"""Sortable columns and keyset (cursor) pagination for the queue list.

Each sort key is annotated as `sort_key`; rows are ordered by (sort_key, id) both in the same
direction, and a cursor names the (sort_key, id) of the row a page ends on. A page is then
"the next rows after that pair", which stays stable while tickets are added and costs no
COUNT(*) or OFFSET, whatever the number of ties in a column such as severity.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from django.db.models import (
    Case,
    CharField,
    DateTimeField,
    F,
    IntegerField,
    Model,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.expressions import Combinable
from django.db.models.functions import Coalesce, Concat, Lower, NullIf, Trim

from slas.models import ClockState, SLATarget
from tickets.models import Severity, Tier
from tickets.states import TicketStatus

M = TypeVar("M", bound=Model)


def _rank(field: str, values: Sequence[str]) -> Case:
    """The position of the field's value in `values` (the order a person expects)."""
    return Case(
        *(When(**{field: value}, then=Value(i)) for i, value in enumerate(values)),
        default=Value(len(values)),
        output_field=IntegerField(),
    )


def _person(relation: str) -> Combinable:
    """A person's display name as User.display_name gives it (full name, else email);
    empty when there is nobody (an unassigned ticket)."""
    full_name = Trim(
        Concat(F(f"{relation}__first_name"), Value(" "), F(f"{relation}__last_name")),
        output_field=CharField(),
    )
    return Coalesce(
        Lower(Coalesce(NullIf(full_name, Value("")), F(f"{relation}__email"))),
        Value(""),
        output_field=CharField(),
    )


# Rows without a clock that is running or breached sort after every due time.
NO_SLA_DUE = datetime(9999, 12, 31, tzinfo=UTC)


def _sla_due() -> Coalesce:
    """When the ticket's first running or breached SLA clock is (was) due."""
    first_due = (
        SLATarget.objects.filter(
            ticket=OuterRef("pk"), state__in=(ClockState.RUNNING, ClockState.BREACHED)
        )
        .order_by("due_at")
        .values("due_at")[:1]
    )
    return Coalesce(
        Subquery(first_due),
        Value(NO_SLA_DUE, output_field=DateTimeField()),
        output_field=DateTimeField(),
    )


@dataclass(frozen=True)
class SortKey:
    name: str
    label: str
    expression: Any
    kind: type[int] | type[str] | type[datetime]


SORT_KEYS: dict[str, SortKey] = {
    key.name: key
    for key in (
        SortKey("reference", "Reference", F("id"), int),
        SortKey("subject", "Subject", Lower("subject"), str),
        SortKey("community", "Community", Lower("community__name"), str),
        SortKey("requester", "Requester", _person("requester"), str),
        SortKey("severity", "Severity", _rank("severity", Severity.values), int),
        SortKey("tier", "Tier", _rank("tier", Tier.values), int),
        SortKey("status", "Status", _rank("status", TicketStatus.values), int),
        SortKey("assignee", "Assignee", _person("assignee"), str),
        SortKey("created", "Age", F("created_at"), datetime),
        SortKey("updated", "Last update", F("updated_at"), datetime),
        SortKey("sla", "Time to breach", _sla_due(), datetime),
        # The budget-aware priority (reports.priority), kept on the ticket: index
        # ticket_priority_idx (priority_score, id) gives the default order in one scan.
        SortKey("priority", "Priority", F("priority_score"), int),
    )
}
DEFAULT_SORT = "-priority"


@dataclass(frozen=True)
class Sort:
    key: SortKey
    descending: bool

    @property
    def param(self) -> str:
        return f"-{self.key.name}" if self.descending else self.key.name


def parse_sort(value: str | None) -> Sort:
    """`?sort=severity` or `?sort=-updated`; anything unknown is the default order."""
    value = (value or "").strip()
    key = SORT_KEYS.get(value.lstrip("-"))
    if key is None:
        return parse_sort(DEFAULT_SORT)
    return Sort(key=key, descending=value.startswith("-"))


@dataclass(frozen=True)
class Position:
    value: int | str | datetime
    pk: int
    backwards: bool


def encode_cursor(value: int | str | datetime, pk: int, *, backwards: bool) -> str:
    plain = value.isoformat() if isinstance(value, datetime) else value
    raw = json.dumps([plain, pk, "p" if backwards else "n"], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(
    cursor: str | None, kind: type[int] | type[str] | type[datetime]
) -> Position | None:
    """The position a cursor names, or None for a missing or damaged cursor (first page)."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value, pk, direction = json.loads(raw)
        if kind is datetime:
            value = datetime.fromisoformat(value)
        if not isinstance(value, kind) or isinstance(value, bool) or direction not in ("n", "p"):
            return None
        if not isinstance(pk, int) or isinstance(pk, bool):
            return None
        return Position(value=value, pk=pk, backwards=direction == "p")
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        return None


@dataclass(frozen=True)
class Page(Generic[M]):
    rows: list[M]
    next_cursor: str | None
    previous_cursor: str | None
    is_first: bool


def _beyond(position: Position, *, descending: bool) -> Q:
    """Rows that come after `position` in the order (sort_key, id), both ascending or both
    descending."""
    if descending:
        return Q(sort_key__lt=position.value) | Q(sort_key=position.value, pk__lt=position.pk)
    return Q(sort_key__gt=position.value) | Q(sort_key=position.value, pk__gt=position.pk)


def keyset_page(queryset: QuerySet[M], *, sort: Sort, cursor: str | None, size: int) -> Page[M]:
    """One page of `queryset` in `sort` order, starting after (or ending before) the cursor."""
    position = decode_cursor(cursor, sort.key.kind)
    backwards = position is not None and position.backwards
    descending = sort.descending != backwards
    rows_query = queryset.annotate(sort_key=sort.key.expression).order_by(
        *(("-sort_key", "-pk") if descending else ("sort_key", "pk"))
    )
    if position is not None:
        rows_query = rows_query.filter(_beyond(position, descending=descending))
    rows = list(rows_query[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    if backwards:
        rows.reverse()
    has_next = True if backwards else more
    has_previous = more if backwards else position is not None
    return Page(
        rows=rows,
        next_cursor=(
            encode_cursor(rows[-1].sort_key, rows[-1].pk, backwards=False)  # type: ignore[attr-defined]
            if has_next and rows
            else None
        ),
        previous_cursor=(
            encode_cursor(rows[0].sort_key, rows[0].pk, backwards=True)  # type: ignore[attr-defined]
            if has_previous and rows
            else None
        ),
        is_first=position is None,
    )
