"""Which calendar and which policy apply to a ticket; the admin's preview and grid."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Case, Exists, OuterRef, Q, Value, When

from communities.models import Community, ServicePlan
from slas.business_time import ALWAYS, ZERO, Interval, Schedule, ScheduleInvalid
from slas.business_time import Holiday as HolidayRule
from slas.clock import TargetRule, due, measure_of, warning
from slas.models import BusinessCalendar, CommunityCalendar, Metric, PlanCalendar, SLAPolicy
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
    policies = SLAPolicy.objects.filter(active=True).order_by("position", "id")
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
    grid = {}
    for plan in plans:
        for severity in Severity.values:
            match = policy_match(plan=plan, community=None, severity=severity, kind=kind)
            grid[(plan.pk, severity)] = GridCell(match.policy, match.reason)
    return plans, list(Severity.values), grid
