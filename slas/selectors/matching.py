"""Which calendar and which policy apply to a ticket; the admin's preview and grid."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import Case, Exists, OuterRef, Q, QuerySet, Value, When

from communities.models import Community, ServicePlan
from slas.business_time import ALWAYS, ZERO, Interval, Schedule, ScheduleInvalid
from slas.business_time import Holiday as HolidayRule
from slas.clock import TargetRule, due, measure_of, warning
from slas.models import (
    BusinessCalendar,
    CommunityCalendar,
    Holiday,
    Metric,
    PlanCalendar,
    SLAPolicy,
    WorkingInterval,
)
from tickets.models import Severity, TicketKind

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------- calendars


def calendar_for(*, community_id: int | None, plan_id: int | None) -> BusinessCalendar | None:
    """The community's own calendar, else its plan's, else the default one (or None): one
    query, ranking the few calendars there are."""
    rank = Case(
        When(
            # None (no community, no plan) matches no row.
            Exists(
                CommunityCalendar.objects.filter(
                    Q(community_id=community_id), calendar=OuterRef("pk")
                )
            ),
            then=Value(0),
        ),
        When(
            Exists(PlanCalendar.objects.filter(Q(plan_id=plan_id), calendar=OuterRef("pk"))),
            then=Value(1),
        ),
        When(is_default=True, then=Value(2)),
        default=None,
    )
    return (
        BusinessCalendar.objects.alias(rank=rank)
        .filter(rank__isnull=False)
        .order_by("rank", "pk")
        .first()
    )


def schedule_of(calendar: BusinessCalendar | None) -> Schedule | None:
    """The calendar as business_time reads it: its hours and its active holidays. None for
    no calendar (clocks then count every hour)."""
    if calendar is None:
        return None
    if calendar.around_the_clock:
        return Schedule(time_zone=calendar.time_zone, around_the_clock=True)
    try:
        return Schedule(
            time_zone=calendar.time_zone,
            intervals=tuple(
                Interval(i.weekday, i.start, i.end, i.ends_next_day)
                for i in calendar.intervals.all()
            ),
            holidays=tuple(
                HolidayRule(h.day, h.yearly) for h in calendar.holidays.all() if h.active
            ),
        )
    except ScheduleInvalid:
        # The services refuse such a calendar; one broken by hand must not stop the clocks.
        logger.exception("Calendar %s is unusable; its clocks count every hour", calendar.pk)
        return ALWAYS


# ---------------------------------------------------------------- policies


@dataclass(frozen=True)
class PolicyMatch:
    policy: SLAPolicy | None
    reason: str


def _label(choices: type[Severity] | type[TicketKind], value: str) -> str:
    return str(choices(value).label) if value in choices.values else value or "none"


def policy_match(
    *, plan: ServicePlan | None, community: Community | None, severity: str, kind: str
) -> PolicyMatch:
    """The first active policy, in order, whose conditions all hold, and why it applies.
    (`community` None: a hypothetical ticket of no community in particular.)"""
    return _first_match(
        _active_policies(), plan=plan, community=community, severity=severity, kind=kind
    )


def _active_policies() -> QuerySet[SLAPolicy]:
    return SLAPolicy.objects.filter(active=True).order_by("position", "id")


def _first_match(
    policies: Iterable[SLAPolicy],
    *,
    plan: ServicePlan | None,
    community: Community | None,
    severity: str,
    kind: str,
) -> PolicyMatch:
    for number, policy in enumerate(policies, start=1):
        if policy.service_plan_id is not None and policy.service_plan_id != (plan and plan.pk):
            continue
        if policy.community_id is not None and policy.community_id != (community and community.pk):
            continue
        if policy.severity and policy.severity != severity:
            continue
        if policy.kind and policy.kind != kind:
            continue
        held = [
            f"plan is {plan}" if policy.service_plan_id else "any plan",
            f"severity is {_label(Severity, severity)}" if policy.severity else "any severity",
            f"kind is {_label(TicketKind, kind)}" if policy.kind else "any kind",
            f"community is {community}" if policy.community_id else "any community",
        ]
        return PolicyMatch(
            policy,
            f"“{policy.name}” is the first matching policy (number {number} in order): "
            + ", ".join(held)
            + ".",
        )
    return PolicyMatch(
        None,
        f"No active policy matches plan {plan or 'none'}, severity {_label(Severity, severity)}, "
        f"kind {_label(TicketKind, kind)}, community {community or 'any'}.",
    )


# ---------------------------------------------------------------- kept per process


@dataclass(frozen=True)
class SLASetup:
    """The active policies in order and every calendar with its schedule: what matching a
    ticket and arming its clocks read, as `calendar_for`, `policy_match` and `schedule_of`
    would read them."""

    policies: tuple[SLAPolicy, ...]
    calendars: dict[int, BusinessCalendar]
    schedules: dict[int, Schedule | None]
    community_calendars: dict[int, int]
    plan_calendars: dict[int, int]
    default_calendar: int | None

    def calendar_for(
        self, *, community_id: int | None, plan_id: int | None
    ) -> BusinessCalendar | None:
        # A community and a plan have one calendar each at most, and one calendar is the
        # default: the community's, else the plan's, else the default, as calendar_for ranks.
        pk = (
            self.community_calendars.get(community_id or 0)
            or self.plan_calendars.get(plan_id or 0)
            or self.default_calendar
        )
        return self.calendars.get(pk) if pk is not None else None

    def policy_match(
        self, *, plan: ServicePlan | None, community: Community | None, severity: str, kind: str
    ) -> PolicyMatch:
        return _first_match(
            self.policies, plan=plan, community=community, severity=severity, kind=kind
        )


# Every row of these tables, as text, digested: any committed change to any of them (a
# policy edited in the admin, an interval, a holiday, a plan's calendar) changes it.
_SETUP_TABLES = (
    SLAPolicy,
    BusinessCalendar,
    WorkingInterval,
    Holiday,
    PlanCalendar,
    CommunityCalendar,
)
_ROWS_AS_TEXT = "coalesce((SELECT string_agg(t::text, ',' ORDER BY t.id) FROM {} t), '')"
_SETUP_VERSION_SQL = "SELECT md5(concat_ws('|', {}))".format(
    ", ".join(_ROWS_AS_TEXT.format(model._meta.db_table) for model in _SETUP_TABLES)
)
_setup: tuple[str, SLASetup] | None = None


def sla_setup() -> SLASetup:
    """The policies and calendars. Each process keeps them until any of their rows changes,
    so matching a ticket and arming its clocks cost one small query for them (a digest of
    a few small tables) instead of three to five."""
    global _setup  # a per-process cache, replaced whole
    with connection.cursor() as cursor:
        cursor.execute(_SETUP_VERSION_SQL)
        row = cursor.fetchone()
    version = str(row[0]) if row else ""
    cached = _setup
    if cached is not None and cached[0] == version:
        return cached[1]
    calendars = {
        c.pk: c for c in BusinessCalendar.objects.prefetch_related("intervals", "holidays")
    }
    setup = SLASetup(
        policies=tuple(_active_policies()),
        calendars=calendars,
        schedules={pk: schedule_of(calendar) for pk, calendar in calendars.items()},
        community_calendars=dict(
            CommunityCalendar.objects.values_list("community_id", "calendar_id")
        ),
        plan_calendars=dict(PlanCalendar.objects.values_list("plan_id", "calendar_id")),
        default_calendar=next((pk for pk, c in calendars.items() if c.is_default), None),
    )
    _setup = (version, setup)
    return setup


def rule_of_policy(policy: SLAPolicy, metric: str) -> TargetRule | None:
    """The policy's target for `metric` as a clock copies it, or None."""
    minutes = getattr(policy, f"{metric}_minutes")
    if not minutes:
        return None
    return TargetRule(
        minutes=minutes,
        business=getattr(policy, f"{metric}_business"),
        warn_percent=policy.warn_percent,
        warn_minutes_before=policy.warn_minutes_before,
        notify_around_the_clock=policy.notify_around_the_clock,
    )


@dataclass(frozen=True)
class PreviewLine:
    metric: str
    label: str
    rule: TargetRule
    due_at: datetime
    warn_at: datetime | None


@dataclass(frozen=True)
class Preview:
    """The clocks a hypothetical ticket opened at `opened_at` would get (admin preview)."""

    match: PolicyMatch
    calendar: BusinessCalendar | None
    opened_at: datetime
    lines: list[PreviewLine]


def sla_preview(
    *,
    community: Community | None,
    plan: ServicePlan | None,
    severity: str,
    kind: str,
    opened_at: datetime,
) -> Preview:
    """Due and warning times, per metric, of a ticket opened at `opened_at` (and taken on
    at once: resolution runs from the same moment), exactly as arming would store them."""
    if community is not None:
        plan = community.service_plan
    match = policy_match(plan=plan, community=community, severity=severity, kind=kind)
    calendar = calendar_for(
        community_id=community.pk if community else None, plan_id=plan.pk if plan else None
    )
    schedule = schedule_of(calendar)
    lines = []
    for metric in Metric.values if match.policy is not None else []:
        assert match.policy is not None
        rule = rule_of_policy(match.policy, metric)
        if rule is None:
            continue
        measure = measure_of(business=rule.business, schedule=schedule)
        due_at = due(measure=measure, started=opened_at, rule=rule, paused=ZERO)
        warn_at = warning(measure=measure, notices=schedule, started=opened_at, rule=rule,
                          paused=ZERO, due_at=due_at)  # fmt: skip
        lines.append(PreviewLine(metric, str(Metric(metric).label), rule, due_at, warn_at))
    return Preview(match=match, calendar=calendar, opened_at=opened_at, lines=lines)


@dataclass(frozen=True)
class GridCell:
    policy: SLAPolicy | None
    reason: str


def policy_grid(
    *, kind: str = "question"
) -> tuple[list[ServicePlan], list[str], dict[tuple[int, str], GridCell]]:
    """Which policy a ticket of each plan and severity gets (of `kind`, in no community in
    particular): the admin's plan x severity grid."""
    plans = list(ServicePlan.objects.order_by("position", "name"))
    policies = tuple(_active_policies())  # read once for every cell
    grid = {}
    for plan in plans:
        for severity in Severity.values:
            match = _first_match(policies, plan=plan, community=None, severity=severity, kind=kind)
            grid[(plan.pk, severity)] = GridCell(match.policy, match.reason)
    return plans, list(Severity.values), grid
