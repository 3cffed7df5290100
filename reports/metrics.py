"""Every metric of the desk, each computed in SQL from what the other apps record.

docs/metrics.md gives each definition in words; this module is the definition. A metric
is a function of `Filters` (the period [start, end), the communities in the viewer's scope
and the narrowing filters) returning a `Figure`; `tickets_behind(key, filters)` returns the
tickets a figure counts, for the drill-down. The counts and durations over tickets, SLA
clocks and satisfaction answers are read from the daily roll-ups for the whole past days they
hold and from the source rows for the rest (reports.rollups; the roll-ups are built with the
functions here, so both ways give the same figure); docs/reporting.md, "Roll-ups".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.postgres.aggregates import ArrayAgg
from django.db.models import (
    Count,
    Exists,
    F,
    FloatField,
    Func,
    OuterRef,
    Q,
    QuerySet,
    Sum,
)
from django.db.models.functions import Cast, Extract, TruncDate
from django.utils import timezone

from communities.models import Community, Membership, SupportBudget, TimeEntry
from incidents.models import Incident, IncidentCommunity
from incidents.paging.models import Page
from knowledgebase.search.models import SearchLog
from knowledgebase.search.selectors import deflected, with_outcome
from reports import rollups
from reports.rollups import Ranges
from routing.models import AgentProfile, TierEscalation
from slas.models import ClockState, Metric, SLATarget
from slas.selectors.compliance import PercentileCont
from tickets.models import (
    UNRESOLVED,
    Message,
    SatisfactionRating,
    Severity,
    Ticket,
    TicketEvent,
    Tier,
)
from tickets.states import TicketStatus

# ------------------------------------------------------------------ filters


@dataclass(frozen=True)
class Filters:
    """What a report looks at. `community_ids` is already the viewer's scope (narrowed to the
    community asked for, if any); the other fields narrow further, empty meaning any."""

    start: datetime
    end: datetime
    community_ids: tuple[int, ...]
    plan: int | None = None
    tier: str = ""
    severity: str = ""
    team: int | None = None
    agent: int | None = None
    channel: str = ""

    def previous(self) -> Filters:
        """The period of the same length just before this one."""
        length = self.end - self.start
        return replace(self, start=self.start - length, end=self.start)

    @property
    def days(self) -> float:
        return (self.end - self.start).total_seconds() / 86400


def tickets_filtered(f: Filters) -> QuerySet[Ticket]:
    """The tickets the filters take in, in any period."""
    tickets = Ticket.objects.filter(community_id__in=f.community_ids)
    if f.plan:
        tickets = tickets.filter(community__service_plan_id=f.plan)
    if f.tier:
        tickets = tickets.filter(tier=f.tier)
    if f.severity:
        tickets = tickets.filter(severity=f.severity)
    if f.channel:
        tickets = tickets.filter(channel=f.channel)
    if f.agent:
        tickets = tickets.filter(assignee_id=f.agent)
    if f.team:
        tickets = tickets.filter(assignee__agent_profile__teams=f.team)
    return tickets


def narrowed(f: Filters, prefix: str = "ticket__", *, community: bool = True) -> Q:
    """The ticket filters as lookups through a relation to the ticket (a join the planner
    drives from the other table's indexed range, rather than `ticket__in=<every ticket of
    the communities>`). `community=False` for a table with a community column of its own
    (SLA clocks, time entries): with no other filter, no join at all."""
    q = Q(**{f"{prefix}community_id__in": f.community_ids}) if community else Q()
    if f.plan:
        q &= Q(**{f"{prefix}community__service_plan_id": f.plan})
    for name in ("tier", "severity", "channel"):
        value = getattr(f, name)
        if value:
            q &= Q(**{f"{prefix}{name}": value})
    if f.agent:
        q &= Q(**{f"{prefix}assignee_id": f.agent})
    if f.team:
        q &= Q(**{f"{prefix}assignee__agent_profile__teams": f.team})
    return q


# ------------------------------------------------------------------ shared reads

_SHARED: ContextVar[dict[tuple[str, Filters], Any] | None] = ContextVar(
    "reports_shared_reads", default=None
)


@contextmanager
def shared_reads() -> Iterator[None]:
    """Within this block, figures read from the same set of rows (the period's tickets
    opened, resolved, SLA clocks) share one query per set and period: a dashboard asks for
    each set once rather than once per figure. Outside it, every call reads afresh."""
    token = _SHARED.set({})
    try:
        yield
    finally:
        _SHARED.reset(token)


def _shared(name: str, f: Filters, read: Callable[[], Any]) -> Any:
    memo = _SHARED.get()
    if memo is None:
        return read()
    key = (name, f)
    if key not in memo:
        memo[key] = read()
    return memo[key]


def _in(f: Filters, column: str, ranges: Ranges | None = None) -> Q:
    """The rows whose `column` falls in the period, or in any of `ranges` when given."""
    if ranges is None:
        return Q(**{f"{column}__gte": f.start, f"{column}__lt": f.end})
    q = Q(pk__in=[])
    for start, end in ranges:
        q |= Q(**{f"{column}__gte": start, f"{column}__lt": end})
    return q


def _by_ticket(f: Filters) -> bool:
    """The filters narrow by a ticket's own fields (the roll-ups hold whole communities)."""
    return bool(f.tier or f.severity or f.channel or f.agent or f.team)


def _split(f: Filters) -> rollups.Split:
    """The period as the roll-ups' clean whole days and the source ranges (reports.rollups)."""

    def read() -> rollups.Split:
        community_ids = f.community_ids
        if f.plan and not _by_ticket(f):
            community_ids = tuple(
                Community.objects.filter(pk__in=f.community_ids, service_plan_id=f.plan)
                .order_by("pk")
                .values_list("pk", flat=True)
            )
        return rollups.split(f.start, f.end, community_ids, by_ticket=_by_ticket(f))

    found: rollups.Split = _shared("split", f, read)
    return found


# ------------------------------------------------------------------ figures


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    value: float | None
    unit: str  # "%", "min", "h", "", "tickets"
    count: int = 0  # how many things the figure is computed over
    detail: str = ""

    @property
    def shown(self) -> str:
        return format_value(self.value, self.unit)


def format_value(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "%":
        return f"{value:.1f} %"
    if unit in ("min", "h"):
        return f"{value:.1f} {unit}"
    if float(value).is_integer():
        return f"{int(value)}"
    return f"{value:.1f}"


def _share(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def _seconds(expression: Any) -> Func:
    return Func(
        expression, template="EXTRACT(EPOCH FROM %(expressions)s)", output_field=FloatField()
    )


def _median_minutes(queryset: QuerySet[Any], expression: Any) -> tuple[float | None, int]:
    row = queryset.aggregate(
        median=PercentileCont(_seconds(expression), 0.5), n=Count("pk", distinct=False)
    )
    value = row["median"]
    return (None if value is None else round(value / 60, 1)), row["n"]


# Each metric: the tickets it counts (for the drill-down) and how it is computed.

DONE = Q(status__in=[TicketStatus.RESOLVED, TicketStatus.CLOSED])
_RESPONDED = Q(first_responded_at__isnull=False)


def created(f: Filters, ranges: Ranges | None = None) -> QuerySet[Ticket]:
    return tickets_filtered(f).filter(_in(f, "created_at", ranges))


def resolved(f: Filters, ranges: Ranges | None = None) -> QuerySet[Ticket]:
    """Tickets whose (last) resolution fell in the period, confirmed since or not."""
    return tickets_filtered(f).filter(_in(f, "resolved_at", ranges))


def _per_community(
    rows: QuerySet[Any], community: str, **aggregates: Any
) -> dict[int, dict[str, int]]:
    found = rows.order_by().values(community).annotate(**aggregates)
    return {r[community]: {name: int(r[name] or 0) for name in aggregates} for r in found}


# Counts over the source rows in time ranges, per community: what the figures add up, and
# what a roll-up row holds for its day (reports.rollups builds them with these functions).
# Each returns {community id: {roll-up column: count}}.


def _opened_counts(f: Filters, ranges: Ranges) -> dict[int, dict[str, int]]:
    return _per_community(
        created(f, ranges), "community_id",
        opened=Count("pk"), opened_done=Count("pk", filter=DONE),
        responded=Count("pk", filter=_RESPONDED),
    )  # fmt: skip


def _opened_link_counts(f: Filters, ranges: Ranges) -> dict[int, dict[str, int]]:
    """Of the tickets opened: escalated a tier up (a hashed set of the escalated tickets,
    not a probe per ticket); preceded by a knowledge-base search of their requester."""
    return _per_community(
        created(f, ranges), "community_id",
        escalated=Count(
            "pk", filter=Q(pk__in=TierEscalation.objects.filter(direction="up").values("ticket_id"))
        ),
        kb_used=Count("pk", filter=Q(_searched_before())),
    )  # fmt: skip


def _resolved_counts(f: Filters, ranges: Ranges) -> dict[int, dict[str, int]]:
    return _per_community(resolved(f, ranges), "community_id", resolved=Count("pk"))


def _first_contact_counts(f: Filters, ranges: Ranges) -> dict[int, dict[str, int]]:
    return _per_community(
        first_contact_tickets(f, ranges), "community_id", first_contact=Count("pk")
    )


def _reopened_counts(f: Filters, ranges: Ranges) -> dict[int, dict[str, int]]:
    return _per_community(reopened_tickets(f, ranges), "community_id", reopened=Count("pk"))


_IN_TIME = Q(state=ClockState.MET, breached_at__isnull=True, met_at__lte=F("due_at"))
_DECIDED = Q(state__in=[ClockState.MET, ClockState.BREACHED]) | Q(breached_at__isnull=False)
CLOCK_COLUMNS: dict[str, str] = {
    Metric.FIRST_RESPONSE: "fr",
    Metric.NEXT_UPDATE: "nu",
    Metric.RESOLUTION: "res",
}


def _clock_counts(f: Filters, ranges: Ranges) -> dict[int, dict[str, int]]:
    """Per community, per SLA metric, over the clocks started: decided, met in time (one
    hashed count per metric, no sort)."""
    found = (
        _period_clocks(f, ranges)
        .values("community_id", "metric")
        .annotate(decided=Count("pk", filter=_DECIDED), in_time=Count("pk", filter=_IN_TIME))
    )
    counts: dict[int, dict[str, int]] = {}
    for r in found:
        prefix = CLOCK_COLUMNS.get(r["metric"])
        if prefix:
            row = counts.setdefault(r["community_id"], {})
            row[f"{prefix}_decided"] = r["decided"]
            row[f"{prefix}_in_time"] = r["in_time"]
    return counts


def _rating_counts(f: Filters, ranges: Ranges) -> dict[int, dict[str, int]]:
    return _per_community(
        _answered(f, ranges), "ticket__community_id",
        rated=Count("pk"), rated_good=Count("pk", filter=Q(score="good")),
    )  # fmt: skip


def _breakdown(column: str) -> Callable[[Filters, Ranges], dict[int, dict[str, Any]]]:
    def count(f: Filters, ranges: Ranges) -> dict[int, dict[str, Any]]:
        found = created(f, ranges).order_by().values("community_id", column).annotate(n=Count("pk"))
        counts: dict[int, dict[str, Any]] = {}
        for r in found:
            row = counts.setdefault(r["community_id"], {f"opened_by_{column}": {}})
            row[f"opened_by_{column}"][r[column]] = r["n"]
        return counts

    return count


ROLLUP_GROUPS: dict[str, Callable[[Filters, Ranges], dict[int, dict[str, Any]]]] = {
    "opened": _opened_counts,
    "opened_links": _opened_link_counts,
    "resolved": _resolved_counts,
    "first_contact": _first_contact_counts,
    "reopened": _reopened_counts,
    "clocks": _clock_counts,
    "rated": _rating_counts,
    "by_tier": _breakdown("tier"),
    "by_channel": _breakdown("channel"),
}
GROUP_FIELDS: dict[str, tuple[str, ...]] = {
    "opened": ("opened", "opened_done", "responded"),
    "opened_links": ("escalated", "kb_used"),
    "resolved": ("resolved",),
    "first_contact": ("first_contact",),
    "reopened": ("reopened",),
    "clocks": tuple(f"{p}_{c}" for p in CLOCK_COLUMNS.values() for c in ("decided", "in_time")),
    "rated": ("rated", "rated_good"),
}


ALL_FIELDS = tuple(name for fields in GROUP_FIELDS.values() for name in fields)


def counts_by_community(group: str, f: Filters) -> dict[int, dict[str, int]]:
    """A group's counts per community over the period: the roll-ups' clean whole days plus
    the source rows of the rest (shared within a dashboard)."""

    def read() -> dict[int, dict[str, int]]:
        fields = GROUP_FIELDS[group]
        split = _split(f)
        # Every count of the roll-up rows in one read, shared by the groups.
        held = _shared("held", f, lambda: rollups.sums_by(split, "community_id", ALL_FIELDS))
        result = {pk: {name: row[name] for name in fields} for pk, row in held.items()}
        if split.ranges:
            for community_id, counts in ROLLUP_GROUPS[group](f, split.ranges).items():
                row = result.setdefault(community_id, dict.fromkeys(fields, 0))
                for name, n in counts.items():
                    row[name] += n
        return {pk: counts for pk, counts in result.items() if any(counts.values())}

    found: dict[int, dict[str, int]] = _shared(f"counts:{group}", f, read)
    return found


def _total(group: str, f: Filters) -> dict[str, int]:
    total = dict.fromkeys(GROUP_FIELDS[group], 0)
    for counts in counts_by_community(group, f).values():
        for name, n in counts.items():
            total[name] += n
    return total


@dataclass(frozen=True)
class Durations:
    """The durations a median is taken over: one value (seconds) per source row."""

    rows: Callable[[Filters, Ranges], QuerySet[Any]]
    seconds: Callable[[], Any]
    community: str = "community_id"

    def values(self, f: Filters, ranges: Ranges) -> QuerySet[Any]:
        rows: QuerySet[Any] = self.rows(f, ranges).order_by().annotate(v=self.seconds())
        return rows.values_list("v")

    def per_community(self, f: Filters) -> dict[int, list[float]]:
        """For a roll-up's day (the filters' period): each community's values."""
        found = (
            self.rows(f, ((f.start, f.end),))
            .order_by()
            .values(self.community)
            .annotate(a=ArrayAgg(self.seconds()))
        )
        return {r[self.community]: [float(v) for v in r["a"]] for r in found}


def _met_clocks(metric: str) -> Callable[[Filters, Ranges], QuerySet[SLATarget]]:
    return lambda f, ranges: _period_clocks(f, ranges).filter(
        metric=metric, state=ClockState.MET, used_seconds__isnull=False
    )


ROLLUP_DURATIONS: dict[str, Durations] = {
    "response_seconds": Durations(
        lambda f, ranges: created(f, ranges).filter(_RESPONDED),
        lambda: _seconds(F("first_responded_at") - F("created_at")),
    ),
    "resolution_seconds": Durations(resolved, lambda: _seconds(F("resolved_at") - F("created_at"))),
    "fr_business_seconds": Durations(
        _met_clocks(Metric.FIRST_RESPONSE), lambda: Cast("used_seconds", FloatField())
    ),
    "res_business_seconds": Durations(
        _met_clocks(Metric.RESOLUTION), lambda: Cast("used_seconds", FloatField())
    ),
}


def _median(column: str, f: Filters) -> tuple[float | None, int]:
    """The median in minutes and the count of a roll-up's durations over the period. Within
    a dashboard every median is read at once (one query), as they are all shown."""

    def read(columns: Iterable[str]) -> dict[str, tuple[float | None, int]]:
        split = _split(f)
        sources = {
            name: ROLLUP_DURATIONS[name].values(f, split.ranges) if split.ranges else None
            for name in columns
        }
        return {
            name: (_minutes(value), n)
            for name, (value, n) in rollups.medians(split, sources).items()
        }

    if _SHARED.get() is None:
        return read([column])[column]
    found: dict[str, tuple[float | None, int]] = _shared(
        "medians", f, lambda: read(ROLLUP_DURATIONS)
    )
    return found[column]


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 1)


def _hours(minutes: float | None) -> float | None:
    return None if minutes is None else round(minutes / 60, 1)


def volume(f: Filters) -> Figure:
    n = _total("opened", f)["opened"]
    return Figure("volume", "Tickets opened", n, "tickets", n)


def resolved_count(f: Filters) -> Figure:
    n = _total("resolved", f)["resolved"]
    return Figure("resolved", "Tickets resolved", n, "tickets", n)


def _responded(f: Filters) -> QuerySet[Ticket]:
    return created(f).filter(_RESPONDED)


def first_response(f: Filters) -> Figure:
    value, n = _median("response_seconds", f)
    return Figure("first_response", "First response (median, wall clock)", value, "min", n)


def _clocks(f: Filters, metric: str) -> QuerySet[SLATarget]:
    return _period_clocks(f).filter(metric=metric)


def _period_clocks(f: Filters, ranges: Ranges | None = None) -> QuerySet[SLATarget]:
    return (
        SLATarget.objects.filter(community_id__in=f.community_ids)
        .filter(narrowed(f, community=False), _in(f, "started_at", ranges))
        .exclude(state=ClockState.CANCELLED)
        .order_by()
    )


def first_response_business(f: Filters) -> Figure:
    value, n = _median("fr_business_seconds", f)
    return Figure(
        "first_response_business", "First response (median, business time)", value, "min", n
    )


def resolution(f: Filters) -> Figure:
    value, n = _median("resolution_seconds", f)
    return Figure("resolution", "Resolution (median, wall clock)", _hours(value), "h", n)


def resolution_business(f: Filters) -> Figure:
    value, n = _median("res_business_seconds", f)
    return Figure(
        "resolution_business", "Resolution (median, business time)", _hours(value), "h", n
    )


def resolution_rate(f: Filters) -> Figure:
    row = _total("opened", f)
    return Figure(
        "resolution_rate", "Resolution rate", _share(row["opened_done"], row["opened"]), "%",
        row["opened"],
    )  # fmt: skip


def _sla(metric: str, label: str) -> Callable[[Filters], Figure]:
    prefix = CLOCK_COLUMNS[metric]

    def compute(f: Filters) -> Figure:
        row = _total("clocks", f)
        decided, in_time = row[f"{prefix}_decided"], row[f"{prefix}_in_time"]
        return Figure(f"sla_{metric}", label, _share(in_time, decided), "%", decided)

    compute.__name__ = f"sla_{metric}"
    return compute


sla_first_response = _sla(Metric.FIRST_RESPONSE, "SLA met: first response")
sla_next_update = _sla(Metric.NEXT_UPDATE, "SLA met: next update")
sla_resolution = _sla(Metric.RESOLUTION, "SLA met: resolution")


def sla_by_community(f: Filters, metric: str) -> dict[int, float | None]:
    prefix = CLOCK_COLUMNS[metric]
    return {
        community_id: _share(row[f"{prefix}_in_time"], row[f"{prefix}_decided"])
        for community_id, row in counts_by_community("clocks", f).items()
        if row[f"{prefix}_decided"]
    }


def _reopened() -> Exists:
    return Exists(
        TicketEvent.objects.filter(
            ticket=OuterRef("pk"),
            kind=TicketEvent.Kind.STATUS_CHANGED,
            data__transition="reopen",
        )
    )


def _staff_public_replies() -> Any:
    """Public replies by staff on the ticket, counted per ticket: one index-only probe of
    the public messages' partial index (ticket_id INCLUDE author_id), staff as a hashed
    set of ids. COUNT without GROUP BY: one row, 0 when none."""
    from django.db.models import IntegerField, Subquery

    from core.models import User

    replies = (
        Message.objects.filter(
            ticket=OuterRef("pk"),
            kind=Message.Kind.PUBLIC,
            author_id__in=User.objects.filter(is_staff=True).values("pk"),
        )
        .order_by()
        .annotate(n=Func(F("pk"), function="COUNT", output_field=IntegerField()))
        .values("n")
    )
    return Subquery(replies, output_field=IntegerField())


def first_contact_tickets(f: Filters, ranges: Ranges | None = None) -> QuerySet[Ticket]:
    return (
        resolved(f, ranges)
        .exclude(_reopened())
        .alias(staff_replies=_staff_public_replies())
        .filter(staff_replies=1)
    )


def first_contact_resolution(f: Filters) -> Figure:
    total = _total("resolved", f)["resolved"]
    fcr = _total("first_contact", f)["first_contact"]
    return Figure(
        "first_contact_resolution", "First-contact resolution", _share(fcr, total), "%", total
    )


def reopened_tickets(f: Filters, ranges: Ranges | None = None) -> QuerySet[Ticket]:
    """Tickets resolved in the period that had been reopened before their last resolution."""
    return resolved(f, ranges).filter(_reopened())


def reopen_rate(f: Filters) -> Figure:
    total = _total("resolved", f)["resolved"]
    reopened = _total("reopened", f)["reopened"]
    return Figure("reopen_rate", "Reopen rate", _share(reopened, total), "%", total)


def _escalated() -> Exists:
    return Exists(TierEscalation.objects.filter(ticket=OuterRef("pk"), direction="up"))


def escalated_tickets(f: Filters) -> QuerySet[Ticket]:
    return created(f).filter(_escalated())


def escalation_rate(f: Filters) -> Figure:
    total, n = _total("opened", f)["opened"], _total("opened_links", f)["escalated"]
    return Figure("escalation_rate", "Escalation rate", _share(n, total), "%", total)


def _answered(f: Filters, ranges: Ranges | None = None) -> QuerySet[SatisfactionRating]:
    return SatisfactionRating.objects.filter(narrowed(f), _in(f, "answered_at", ranges))


def satisfaction(f: Filters) -> Figure:
    row = _total("rated", f)
    return Figure(
        "satisfaction", "Satisfaction (good answers)", _share(row["rated_good"], row["rated"]),
        "%", row["rated"],
    )  # fmt: skip


def satisfaction_by_community(f: Filters) -> dict[int, float | None]:
    return {
        community_id: _share(row["rated_good"], row["rated"])
        for community_id, row in counts_by_community("rated", f).items()
        if row["rated"]
    }


# ------------------------------------------------------------------ backlog (now)

AGE_BUCKETS: tuple[tuple[str, timedelta, timedelta | None], ...] = (
    ("under 1 day", timedelta(0), timedelta(days=1)),
    ("1-3 days", timedelta(days=1), timedelta(days=3)),
    ("3-7 days", timedelta(days=3), timedelta(days=7)),
    ("7-30 days", timedelta(days=7), timedelta(days=30)),
    ("over 30 days", timedelta(days=30), None),
)


def backlog_tickets(f: Filters) -> QuerySet[Ticket]:
    """Unresolved tickets now (the period does not apply): a backlog is a state."""
    return tickets_filtered(f).filter(UNRESOLVED)


def backlog(f: Filters) -> Figure:
    n = backlog_tickets(f).count()
    return Figure("backlog", "Open tickets now", n, "tickets", n)


def backlog_by_tier_severity(f: Filters) -> dict[tuple[str, str], int]:
    rows = backlog_tickets(f).values("tier", "severity").annotate(n=Count("pk"))
    return {(r["tier"], r["severity"]): r["n"] for r in rows}


def backlog_by_age(f: Filters, now: datetime | None = None) -> dict[str, int]:
    now = now or timezone.now()
    aggregates = {}
    for i, (_, low, high) in enumerate(AGE_BUCKETS):
        condition = Q(created_at__lte=now - low)
        if high is not None:
            condition &= Q(created_at__gt=now - high)
        aggregates[f"bucket_{i}"] = Count("pk", filter=condition)
    row = backlog_tickets(f).aggregate(**aggregates)
    return {label: row[f"bucket_{i}"] for i, (label, _, _) in enumerate(AGE_BUCKETS)}


def age_bucket_bounds(label: str, now: datetime) -> tuple[datetime | None, datetime]:
    """created_after, created_before of an age bucket (for the queue's filters)."""
    for name, low, high in AGE_BUCKETS:
        if name == label:
            return (now - high if high is not None else None), now - low
    raise KeyError(label)


def sla_at_risk_tickets(f: Filters, now: datetime | None = None) -> QuerySet[Ticket]:
    """Tickets with a running clock due within SLA_BREACHING_SOON_MINUTES, or overdue."""
    now = now or timezone.now()
    horizon = now + timedelta(minutes=settings.SLA_BREACHING_SOON_MINUTES)
    due = SLATarget.objects.filter(
        ticket=OuterRef("pk"), state=ClockState.RUNNING, due_at__lte=horizon
    )
    return backlog_tickets(f).filter(Exists(due))


def sla_at_risk(f: Filters) -> Figure:
    n = sla_at_risk_tickets(f).count()
    return Figure("sla_at_risk", "SLA clocks at risk now", n, "tickets", n)


# ------------------------------------------------------------------ agents


def working_minutes(profile: AgentProfile | None, start: datetime, end: datetime) -> int:
    """An agent's working time in [start, end): their work days (none set: Monday to
    Friday) times their daily hours (none set: 8). Counted by whole local days."""
    days = set(profile.work_days) if profile and profile.work_days else {1, 2, 3, 4, 5}
    per_day = 8 * 60
    if profile and profile.work_starts and profile.work_ends:
        s = profile.work_starts.hour * 60 + profile.work_starts.minute
        e = profile.work_ends.hour * 60 + profile.work_ends.minute
        per_day = e - s if e > s else e + 24 * 60 - s
    day: date = start.date()
    total = 0
    while datetime.combine(day, time.min, tzinfo=start.tzinfo) < end:
        if day.isoweekday() in days:
            total += per_day
        day += timedelta(days=1)
    return total


@dataclass(frozen=True)
class AgentRow:
    agent_id: int
    name: str
    open_tickets: int
    logged_minutes: int
    working_minutes: int

    @property
    def utilisation(self) -> float | None:
        return _share(self.logged_minutes, self.working_minutes)


_ANY_TIME = datetime(1970, 1, 1, tzinfo=UTC)


def agent_rows(f: Filters) -> list[AgentRow]:
    """Every agent with open tickets or time logged in the period: load and utilisation."""
    found: list[AgentRow] = _shared("agent_rows", f, lambda: _agent_rows(f))
    return found


def _agent_rows(f: Filters) -> list[AgentRow]:
    from core.models import User

    # Open now, whatever the period: shared by a period and the one it is compared with.
    open_counts: dict[int, int] = _shared(
        "open_by_agent",
        replace(f, start=_ANY_TIME, end=_ANY_TIME),
        lambda: dict(
            backlog_tickets(f)
            .filter(assignee__isnull=False)
            .values("assignee")
            .annotate(n=Count("pk"))
            .values_list("assignee", "n")
        ),
    )
    entries = TimeEntry.objects.filter(
        narrowed(f, community=False),
        community_id__in=f.community_ids,
        worked_at__gte=f.start,
        worked_at__lt=f.end,
    )
    logged = dict(entries.values("agent").annotate(m=Sum("minutes")).values_list("agent", "m"))
    ids = set(open_counts) | set(logged)
    if f.agent:
        ids &= {f.agent}
    users = User.objects.filter(pk__in=ids).select_related("agent_profile").order_by("email")
    rows = []
    for user in users:
        profile = getattr(user, "agent_profile", None)
        rows.append(
            AgentRow(
                agent_id=user.pk,
                name=user.display_name,
                open_tickets=open_counts.get(user.pk, 0),
                logged_minutes=logged.get(user.pk, 0),
                working_minutes=working_minutes(profile, f.start, f.end),
            )
        )
    return rows


def utilisation(f: Filters) -> Figure:
    rows = agent_rows(f)
    logged = sum(r.logged_minutes for r in rows)
    working = sum(r.working_minutes for r in rows)
    return Figure(
        "utilisation",
        "Agent utilisation (time logged / working time)",
        _share(logged, working),
        "%",
        len(rows),
    )


# ------------------------------------------------------------------ budgets


def period_bounds(kind: str, at: datetime, tz: Any) -> tuple[datetime, datetime]:
    """The month, quarter or year containing `at`, in time zone `tz`, as aware datetimes."""
    local = at.astimezone(tz)
    if kind == SupportBudget.Period.YEAR:
        first_month, months = 1, 12
    elif kind == SupportBudget.Period.QUARTER:
        first_month, months = 3 * ((local.month - 1) // 3) + 1, 3
    else:
        first_month, months = local.month, 1
    start = datetime(local.year, first_month, 1, tzinfo=tz)
    end_month = first_month + months
    end = datetime(local.year + (end_month - 1) // 12, (end_month - 1) % 12 + 1, 1, tzinfo=tz)
    return start, end


@dataclass(frozen=True)
class BudgetRow:
    community_id: int
    community: str
    slug: str
    period: str
    starts_at: datetime
    ends_at: datetime
    budget_minutes: int
    used_minutes: int
    forecast_minutes: int

    @property
    def used_percent(self) -> float | None:
        return _share(self.used_minutes, self.budget_minutes)

    @property
    def left_minutes(self) -> int:
        return max(self.budget_minutes - self.used_minutes, 0)

    @property
    def forecast_percent(self) -> float | None:
        return _share(self.forecast_minutes, self.budget_minutes)


def budget_rows(community_ids: tuple[int, ...], now: datetime | None = None) -> list[BudgetRow]:
    """Each community's current budget period: budget, used, left, and the forecast at the
    period's end if time keeps being logged at the rate so far. Two queries."""
    from zoneinfo import ZoneInfo

    now = now or timezone.now()
    budgets = list(
        SupportBudget.objects.filter(community_id__in=community_ids)
        .select_related("community")
        .order_by("community__name")
    )
    if not budgets:
        return []
    bounds = {
        b.community_id: period_bounds(b.period, now, ZoneInfo(b.community.time_zone))
        for b in budgets
    }
    condition = Q()
    for community_id, (start, end) in bounds.items():
        condition |= Q(community_id=community_id, worked_at__gte=start, worked_at__lt=end)
    used = dict(
        TimeEntry.objects.filter(condition)
        .values("community")
        .annotate(m=Sum("minutes"))
        .values_list("community", "m")
    )
    rows = []
    for budget in budgets:
        start, end = bounds[budget.community_id]
        minutes = used.get(budget.community_id, 0)
        elapsed = max((now - start).total_seconds(), 1.0)
        total = (end - start).total_seconds()
        rows.append(
            BudgetRow(
                community_id=budget.community_id,
                community=budget.community.name,
                slug=budget.community.slug,
                period=budget.period,
                starts_at=start,
                ends_at=end,
                budget_minutes=int(budget.hours * Decimal(60)),
                used_minutes=minutes,
                forecast_minutes=round(minutes * total / elapsed),
            )
        )
    return rows


def budget_used(f: Filters) -> Figure:
    rows = budget_rows(f.community_ids)
    used = sum(r.used_minutes for r in rows)
    total = sum(r.budget_minutes for r in rows)
    return Figure(
        "budget_used", "Support budget used (current periods)", _share(used, total), "%", len(rows)
    )


# ------------------------------------------------------------------ on-call


def pages(f: Filters) -> QuerySet[Page]:
    pages = Page.objects.filter(_in(f, "created_at")).filter(
        Q(community_id__in=f.community_ids) | Q(community__isnull=True)
    )
    if f.severity:
        pages = pages.filter(severity=f.severity)
    return pages


NIGHT_STARTS, NIGHT_ENDS = 22, 7


def _night() -> Q:
    """Created between 22:00 and 07:00 in the desk's time zone (settings.TIME_ZONE)."""
    return Q(local_hour__gte=NIGHT_STARTS) | Q(local_hour__lt=NIGHT_ENDS)


def _with_local_hour(pages: QuerySet[Page]) -> QuerySet[Page]:
    return pages.annotate(
        local_hour=Extract("created_at", "hour", tzinfo=timezone.get_default_timezone())
    )


def pages_count(f: Filters) -> Figure:
    n = pages(f).count()
    return Figure("pages", "Pages", n, "", n)


def pages_at_night(f: Filters) -> Figure:
    n = _with_local_hour(pages(f)).filter(_night()).count()
    return Figure("pages_at_night", "Pages at night (22:00-07:00)", n, "", n)


def page_acknowledge(f: Filters) -> Figure:
    value, n = _median_minutes(
        pages(f).filter(acknowledged_at__isnull=False), F("acknowledged_at") - F("created_at")
    )
    return Figure("page_acknowledge", "Time to acknowledge a page (median)", value, "min", n)


def page_resolve(f: Filters) -> Figure:
    value, n = _median_minutes(
        pages(f).filter(resolved_at__isnull=False), F("resolved_at") - F("created_at")
    )
    return Figure("page_resolve", "Time to resolve a page (median)", value, "min", n)


@dataclass(frozen=True)
class OnCallRow:
    person_id: int
    name: str
    pages: int
    at_night: int


def oncall_rows(f: Filters) -> list[OnCallRow]:
    """Pages per person: whoever acknowledged (else resolved) each page in the period."""
    from core.models import User

    rows = (
        _with_local_hour(pages(f))
        .annotate(person=_coalesce("acknowledged_by", "resolved_by"))
        .filter(person__isnull=False)
        .values("person")
        .annotate(n=Count("pk"), night=Count("pk", filter=_night()))
        .order_by("-n", "person")
    )
    people = {u.pk: u.display_name for u in User.objects.filter(pk__in=[r["person"] for r in rows])}
    return [OnCallRow(r["person"], people.get(r["person"], "?"), r["n"], r["night"]) for r in rows]


def _coalesce(*columns: str) -> Any:
    from django.db.models.functions import Coalesce

    return Coalesce(*columns)


def open_pages(f: Filters) -> Figure:
    n = (
        Page.objects.exclude(state="resolved")
        .filter(Q(community_id__in=f.community_ids) | Q(community__isnull=True))
        .count()
    )
    return Figure("pages_open", "Pages open now", n, "", n)


# ------------------------------------------------------------------ incidents


def incidents(f: Filters) -> QuerySet[Incident]:
    """Incidents declared in the period affecting a community of the filters (planned
    maintenance left out); severity filters by the incident's own level when it is given
    as one (sev1..), a ticket severity does not narrow incidents."""
    return Incident.objects.filter(_in(f, "declared_at"), maintenance=False).filter(
        Exists(
            IncidentCommunity.objects.filter(
                incident=OuterRef("pk"), community_id__in=f.community_ids
            )
        )
    )


def incident_count(f: Filters) -> Figure:
    n = incidents(f).count()
    return Figure("incidents", "Incidents", n, "", n)


def incident_duration(f: Filters) -> Figure:
    """Median minutes from the impact's start to resolution, over incidents resolved."""
    value, n = _median_minutes(
        incidents(f).filter(resolved_at__isnull=False), F("resolved_at") - F("impact_started_at")
    )
    return Figure("incident_duration", "Incident duration (median)", value, "min", n)


def incident_first_update(f: Filters) -> Figure:
    """Median minutes from declaring an incident to its first public status update."""
    value, n = _median_minutes(
        incidents(f).filter(first_public_update_at__isnull=False),
        F("first_public_update_at") - F("declared_at"),
    )
    return Figure("incident_first_update", "Time to first public update (median)", value, "min", n)


@dataclass(frozen=True)
class UptimeRow:
    community: str
    month: str
    uptime_percent: float
    guarantee: float
    met: bool
    downtime_minutes: int


def uptime_rows(community_ids: tuple[int, ...], now: datetime | None = None) -> list[UptimeRow]:
    """Each community's uptime this month so far, as incidents.uptime.community_uptime
    computes it (the plan's guarantee and maintenance allowance, the incidents that affected
    the community, fully degraded-only ones left out), read for all the communities at once:
    five queries whatever their number."""
    from zoneinfo import ZoneInfo

    from incidents.models import IncidentComponent, MaintenanceAllowance
    from incidents.uptime import compute, incident_spans, month_bounds, parse_allowance

    now = now or timezone.now()
    communities = list(
        Community.objects.filter(pk__in=community_ids)
        .select_related("service_plan")
        .order_by("name")
    )
    if not communities:
        return []
    months: dict[int, tuple[ZoneInfo, int, int, datetime, datetime]] = {}
    for community in communities:
        zone = ZoneInfo(community.time_zone)
        local = now.astimezone(zone)
        start, end = month_bounds(local.year, local.month, zone)
        months[community.pk] = (zone, local.year, local.month, start, end)
    allowances = {
        a.plan_id: (a.minutes, a.period)
        for a in MaintenanceAllowance.objects.filter(
            plan_id__in={c.service_plan_id for c in communities}
        )
    }
    # A weekly allowance's first week may start before the month.
    look_from = min(m[3] for m in months.values()) - timedelta(days=7)
    affected: dict[int, list[int]] = {}
    for incident_id, community_id in IncidentCommunity.objects.filter(
        community_id__in=[c.pk for c in communities],
        incident__impact_started_at__lt=max(m[4] for m in months.values()),
    ).values_list("incident_id", "community_id"):
        affected.setdefault(community_id, []).append(incident_id)
    ids = {i for found in affected.values() for i in found}
    incidents = {
        i.pk: i
        for i in Incident.objects.filter(pk__in=ids)
        .exclude(mitigated_at__lt=look_from)
        .exclude(resolved_at__lt=look_from)
        .only("pk", "impact_started_at", "mitigated_at", "resolved_at", "maintenance")
    }
    degrees: dict[int, set[str]] = {}
    for incident_id, degree in IncidentComponent.objects.filter(
        incident_id__in=list(incidents)
    ).values_list("incident_id", "degree"):
        degrees.setdefault(incident_id, set()).add(degree)
    rows = []
    for community in communities:
        zone, year, month, start, end = months[community.pk]
        plan = community.service_plan
        minutes, period = allowances.get(plan.pk) or parse_allowance(plan.maintenance_window)
        # community_uptime's query, on the incidents read for all the communities.
        week_before = start - timedelta(days=7)
        mine = [
            incident
            for incident in (incidents.get(pk) for pk in affected.get(community.pk, []))
            if incident is not None
            and incident.impact_started_at < end
            and not (incident.mitigated_at is not None and incident.mitigated_at < week_before)
            and not (incident.resolved_at is not None and incident.resolved_at < week_before)
        ]
        outages, planned = incident_spans(mine, degrees, now)
        figure = compute(
            outages=outages, planned=planned, start=start, end=end, zone=zone,
            guarantee=Decimal(plan.uptime_guarantee), credit_percent=plan.downtime_credit_percent,
            allowance_minutes=minutes, allowance_period=period,
        )  # fmt: skip
        rows.append(
            UptimeRow(
                community=community.name,
                month=f"{year}-{month:02d}",
                uptime_percent=float(figure.uptime_percent),
                guarantee=float(figure.guarantee),
                met=figure.met,
                downtime_minutes=int(figure.downtime.total_seconds() // 60),
            )
        )
    return rows


# ------------------------------------------------------------------ knowledge base


def _searches(f: Filters) -> QuerySet[SearchLog]:
    """Searches and suggestions of the period by members of the filters' communities (a
    search knows its user, not a community; agents' own searches are not counted)."""
    member = Membership.objects.filter(user=OuterRef("user_id"), community_id__in=f.community_ids)
    return with_outcome(
        SearchLog.objects.filter(_in(f, "created_at"), user__isnull=False).filter(Exists(member))
    )


def _kb_totals(f: Filters) -> dict[str, int]:
    def read() -> dict[str, int]:
        row = _searches(f).aggregate(
            searches=Count("pk"), deflections=Count("pk", filter=deflected(timezone.now()))
        )
        return {k: int(v or 0) for k, v in row.items()}

    totals: dict[str, int] = _shared("searches", f, read)
    return totals


def deflection_rate(f: Filters) -> Figure:
    """Of the searches in the period, the share that deflected a request (knowledgebase.search:
    "this answered my question", or an article opened from the suggestions and no request
    from its reader within KB_DEFLECTION_DAYS)."""
    t = _kb_totals(f)
    return Figure(
        "deflection_rate", "Deflection rate", _share(t["deflections"], t["searches"]), "%",
        t["searches"],
    )  # fmt: skip


def self_service_share(f: Filters) -> Figure:
    """Of the needs for help in the period (deflections plus tickets opened), the share the
    knowledge base answered."""
    t = _kb_totals(f)
    opened = _total("opened", f)["opened"]
    total = t["deflections"] + opened
    return Figure(
        "self_service_share", "Self-service share", _share(t["deflections"], total), "%", total
    )


def _searched_before() -> Exists:
    window = timedelta(days=int(getattr(settings, "KB_DEFLECTION_DAYS", 7)))
    return Exists(
        SearchLog.objects.filter(
            user_id=OuterRef("requester_id"),
            created_at__lte=OuterRef("created_at"),
            created_at__gt=OuterRef("created_at") - window,
        )
    )


def kb_used_tickets(f: Filters) -> QuerySet[Ticket]:
    return created(f).filter(_searched_before())


def kb_usage(f: Filters) -> Figure:
    """Of the tickets opened in the period, the share whose requester searched the knowledge
    base (or was shown suggestions) within KB_DEFLECTION_DAYS before opening it."""
    total, used = _total("opened", f)["opened"], _total("opened_links", f)["kb_used"]
    return Figure(
        "kb_usage", "Knowledge-base usage before a request", _share(used, total), "%", total
    )


# ------------------------------------------------------------------ series


def daily_series(f: Filters) -> list[tuple[date, int, int]]:
    """Per day of the period (desk time zone): tickets opened and tickets resolved."""
    tz = timezone.get_default_timezone()
    split = _split(f)
    held = rollups.sums_by(split, "day", ("opened", "resolved"))
    opened = {day: row["opened"] for day, row in held.items()}
    closed = {day: row["resolved"] for day, row in held.items()}
    if split.ranges:
        for counts, rows, column in (
            (opened, created(f, split.ranges), "created_at"),
            (closed, resolved(f, split.ranges), "resolved_at"),
        ):
            for day, n in (
                rows.annotate(day=TruncDate(column, tzinfo=tz))
                .order_by()
                .values("day")
                .annotate(n=Count("pk"))
                .values_list("day", "n")
            ):
                counts[day] = counts.get(day, 0) + n
    first = timezone.localtime(f.start, tz).date()
    last = timezone.localtime(f.end - timedelta(microseconds=1), tz).date()
    days = []
    day = first
    while day <= last:
        days.append((day, opened.get(day, 0), closed.get(day, 0)))
        day += timedelta(days=1)
    return days


def volume_by(f: Filters, column: str) -> dict[str, int]:
    """Tickets opened in the period by tier or by channel."""
    split = _split(f)
    counts = rollups.json_sums(split, f"opened_by_{column}")
    if split.ranges:
        for row in ROLLUP_GROUPS[f"by_{column}"](f, split.ranges).values():
            for value, n in row[f"opened_by_{column}"].items():
                counts[value] = counts.get(value, 0) + n
    return dict(sorted(counts.items()))


# ------------------------------------------------------------------ the registry


@dataclass(frozen=True)
class MetricDef:
    key: str
    compute: Callable[[Filters], Figure]
    # The tickets behind the figure, or None when it counts no tickets (pages, budgets).
    tickets: Callable[[Filters], QuerySet[Ticket]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _sla_tickets(metric: str) -> Callable[[Filters], QuerySet[Ticket]]:
    return lambda f: Ticket.objects.filter(
        pk__in=_clocks(f, metric).filter(_DECIDED).values("ticket_id")
    )


def _answered_tickets(f: Filters) -> QuerySet[Ticket]:
    return Ticket.objects.filter(pk__in=_answered(f).values("ticket_id"))


METRICS: dict[str, MetricDef] = {
    m.key: m
    for m in (
        MetricDef("volume", volume, created),
        MetricDef("resolved", resolved_count, resolved),
        MetricDef("first_response", first_response, _responded),
        MetricDef(
            "first_response_business", first_response_business, _sla_tickets(Metric.FIRST_RESPONSE)
        ),
        MetricDef("resolution", resolution, resolved),
        MetricDef("resolution_business", resolution_business, _sla_tickets(Metric.RESOLUTION)),
        MetricDef("resolution_rate", resolution_rate, created),
        MetricDef("sla_first_response", sla_first_response, _sla_tickets(Metric.FIRST_RESPONSE)),
        MetricDef("sla_next_update", sla_next_update, _sla_tickets(Metric.NEXT_UPDATE)),
        MetricDef("sla_resolution", sla_resolution, _sla_tickets(Metric.RESOLUTION)),
        MetricDef("first_contact_resolution", first_contact_resolution, first_contact_tickets),
        MetricDef("reopen_rate", reopen_rate, reopened_tickets),
        MetricDef("escalation_rate", escalation_rate, escalated_tickets),
        MetricDef("satisfaction", satisfaction, _answered_tickets),
        MetricDef("backlog", backlog, backlog_tickets),
        MetricDef("sla_at_risk", sla_at_risk, sla_at_risk_tickets),
        MetricDef("utilisation", utilisation),
        MetricDef("budget_used", budget_used),
        MetricDef("pages", pages_count),
        MetricDef("pages_at_night", pages_at_night),
        MetricDef("page_acknowledge", page_acknowledge),
        MetricDef("page_resolve", page_resolve),
        MetricDef("pages_open", open_pages),
        MetricDef("deflection_rate", deflection_rate),
        MetricDef("self_service_share", self_service_share),
        MetricDef("kb_usage", kb_usage, kb_used_tickets),
        MetricDef("incidents", incident_count),
        MetricDef("incident_duration", incident_duration),
        MetricDef("incident_first_update", incident_first_update),
    )
}


# Figures of the state now (the period does not apply): shown without a previous period.
STATES_NOW = frozenset({"backlog", "sla_at_risk", "pages_open", "budget_used"})


def compute(key: str, f: Filters) -> Figure:
    return METRICS[key].compute(f)


def tickets_behind(key: str, f: Filters) -> QuerySet[Ticket] | None:
    metric = METRICS.get(key)
    if metric is None or metric.tickets is None:
        return None
    return metric.tickets(f)


@dataclass(frozen=True)
class Compared:
    current: Figure
    previous: Figure

    @property
    def change(self) -> float | None:
        if self.current.value is None or self.previous.value is None:
            return None
        return round(self.current.value - self.previous.value, 1)


def compare(key: str, f: Filters) -> Compared:
    return Compared(compute(key, f), compute(key, f.previous()))


TIERS = [t.value for t in Tier]
SEVERITIES = [s.value for s in Severity]
