"""What the desk, the ticket page and the API show of a ticket's clocks."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypedDict

from django.conf import settings
from django.db.models import OuterRef, Prefetch, QuerySet, Subquery
from django.utils import timezone
from django_stubs_ext import WithAnnotations

from slas.business_time import Schedule
from slas.clock import measure_of, parse_pauses, pauses_total, used
from slas.models import (
    ACTIVE_STATES,
    ClockEvent,
    ClockState,
    Metric,
    SLAPolicy,
    SLATarget,
    TicketSLA,
)
from slas.selectors.matching import schedule_of
from tickets.models import Ticket

# ---------------------------------------------------------------- what people see


def humanize(delta: timedelta) -> str:
    """'2 d 3 h', '1 h 20 min', '45 min', 'less than a minute' (sign ignored)."""
    seconds = abs(int(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min" if minutes else "less than a minute"


@dataclass(frozen=True)
class Badge:
    """The clock a queue row shows for a ticket: the one that matters most (a breach, else
    the running clock due first, else a paused one)."""

    ticket_id: int
    target_id: int
    metric: str
    metric_label: str
    state: str  # running | paused | breached
    level: str  # ok | warning | breached | paused
    due_at: datetime
    seconds_left: int | None  # wall-clock seconds to the due time; negative when overdue
    text: str


def _badge(target: SLATarget, now: datetime) -> Badge:
    label = Metric(target.metric).label
    if target.state == ClockState.PAUSED:
        return Badge(target.ticket_id, target.pk, target.metric, label, target.state, "paused",
                     target.due_at, None, f"{label} paused")  # fmt: skip
    left = target.due_at - now
    if target.state == ClockState.BREACHED or left.total_seconds() <= 0:
        level, text = "breached", f"{label} overdue by {humanize(left)}"
    else:
        warned = target.warned_at is not None or (
            target.warn_at is not None and target.warn_at <= now
        )
        level = "warning" if warned else "ok"
        text = f"{label} due in {humanize(left)}"
    return Badge(target.ticket_id, target.pk, target.metric, label, target.state, level,
                 target.due_at, int(left.total_seconds()), text)  # fmt: skip


def _urgency(target: SLATarget) -> tuple[int, datetime]:
    order = {ClockState.BREACHED: 0, ClockState.RUNNING: 1, ClockState.PAUSED: 2}
    return order[ClockState(target.state)], target.due_at


def sla_badges(ticket_ids: list[int], *, now: datetime | None = None) -> dict[int, Badge]:
    """{ticket id: Badge} for a page of tickets, in one query. Tickets without a clock that
    still counts are absent. The caller has scoped the ticket ids."""
    now = now or timezone.now()
    targets = SLATarget.objects.filter(ticket_id__in=ticket_ids, state__in=ACTIVE_STATES).only(
        "id", "ticket_id", "metric", "state", "due_at", "warn_at", "warned_at"
    )
    best: dict[int, SLATarget] = {}
    for target in targets:
        current = best.get(target.ticket_id)
        if current is None or _urgency(target) < _urgency(current):
            best[target.ticket_id] = target
    return {ticket_id: _badge(target, now) for ticket_id, target in best.items()}


class SlaDue(TypedDict):
    sla_due_at: datetime | None


def tickets_breaching_soon(
    queryset: QuerySet[Ticket], horizon: timedelta | None = None, *, now: datetime | None = None
) -> QuerySet[WithAnnotations[Ticket, SlaDue]]:
    """The tickets of `queryset` (already scoped) with a running clock due within `horizon`
    (default SLA_BREACHING_SOON_MINUTES), the soonest first, annotated `sla_due_at`. Driven
    by the partial index on running clocks' due times."""
    now = now or timezone.now()
    if horizon is None:
        horizon = timedelta(minutes=settings.SLA_BREACHING_SOON_MINUTES)
    due_soon = SLATarget.objects.filter(state=ClockState.RUNNING, due_at__lte=now + horizon)
    first_due = (
        SLATarget.objects.filter(ticket=OuterRef("pk"), state=ClockState.RUNNING)
        .order_by("due_at")
        .values("due_at")[:1]
    )
    return (
        queryset.filter(pk__in=due_soon.values("ticket_id"))
        .annotate(sla_due_at=Subquery(first_due))
        .order_by("sla_due_at", "pk")
    )


@dataclass(frozen=True)
class Clock:
    """One clock of a ticket, for its page and its API, with its history."""

    target: SLATarget
    # Counted time left (the target's measure: business or wall-clock); negative when
    # overdue; None once met or cancelled.
    time_left: timedelta | None
    in_time: bool | None  # met within its target; None while it still counts
    history: list[ClockEvent]

    @property
    def metric(self) -> str:
        return self.target.metric

    @property
    def metric_label(self) -> str:
        return str(Metric(self.target.metric).label)

    @property
    def time_left_text(self) -> str:
        if self.time_left is None:
            return ""
        measure = "business time" if self.target.business else "around the clock"
        if self.time_left.total_seconds() < 0:
            return f"overdue by {humanize(self.time_left)} ({measure})"
        return f"{humanize(self.time_left)} left ({measure})"


def _time_left(target: SLATarget, schedule: Schedule | None, now: datetime) -> timedelta | None:
    if target.state not in ACTIVE_STATES:
        return None
    measure = measure_of(business=target.business, schedule=schedule)
    paused = pauses_total(measure, parse_pauses(target.pauses))
    until = target.paused_since if target.paused_since is not None else now
    spent = used(measure=measure, started=target.started_at, until=until, paused=paused)
    return timedelta(minutes=target.target_minutes) - spent


def _in_time(target: SLATarget) -> bool | None:
    if target.state != ClockState.MET or target.met_at is None:
        return None
    return target.breached_at is None and target.met_at <= target.due_at


def sla_clocks(ticket: Ticket, *, now: datetime | None = None) -> list[Clock]:
    """Every clock of a ticket, oldest first, with its history and the counted time left.
    The caller has checked that the user may see the ticket."""
    now = now or timezone.now()
    targets = (
        SLATarget.objects.filter(ticket=ticket)
        .select_related("policy", "calendar")
        .prefetch_related(
            Prefetch("events", queryset=ClockEvent.objects.select_related("actor")),
            "calendar__intervals",
            "calendar__holidays",
        )
        .order_by("created_at", "id")
    )
    schedules: dict[int | None, Schedule | None] = {}
    clocks = []
    for target in targets:
        if target.calendar_id not in schedules:
            schedules[target.calendar_id] = schedule_of(target.calendar)
        clocks.append(
            Clock(
                target=target,
                time_left=_time_left(target, schedules[target.calendar_id], now),
                in_time=_in_time(target),
                history=list(target.events.all()),
            )
        )
    return clocks


def current_clocks(
    ticket_ids: Collection[int], *, now: datetime | None = None
) -> dict[int, dict[str, Clock]]:
    """{ticket id: {metric: its latest clock}} for a page of tickets, with the counted time
    left but without history (`history` is empty), in at most three queries: the clocks with
    their calendars, the calendars' hours, their holidays. Tickets without clocks are absent.
    The caller has scoped the ticket ids."""
    now = now or timezone.now()
    latest = (
        SLATarget.objects.filter(ticket_id__in=ticket_ids)
        .select_related("calendar")
        .prefetch_related("calendar__intervals", "calendar__holidays")
        .order_by("ticket_id", "metric", "-created_at", "-id")
        .distinct("ticket_id", "metric")
    )
    schedules: dict[int | None, Schedule | None] = {}
    found: dict[int, dict[str, Clock]] = {}
    for target in latest:
        if target.calendar_id not in schedules:
            schedules[target.calendar_id] = schedule_of(target.calendar)
        found.setdefault(target.ticket_id, {})[target.metric] = Clock(
            target=target,
            time_left=_time_left(target, schedules[target.calendar_id], now),
            in_time=_in_time(target),
            history=[],
        )
    return found


@dataclass(frozen=True)
class TicketClocks:
    """A ticket's SLA as its page and the API show it: which policy and why, the latest
    clock of each metric (all three, not only the nearest), and every clock with history."""

    policy: SLAPolicy | None
    reason: str
    current: dict[str, Clock | None]
    clocks: list[Clock]


def ticket_clocks(ticket: Ticket, *, now: datetime | None = None) -> TicketClocks:
    state = TicketSLA.objects.select_related("policy").filter(ticket=ticket).first()
    clocks = sla_clocks(ticket, now=now)
    current: dict[str, Clock | None] = dict.fromkeys(Metric.values)
    for clock in clocks:
        current[clock.metric] = clock  # oldest first: the latest of each metric wins
    return TicketClocks(
        policy=state.policy if state else None,
        reason=state.match_reason if state else "The clocks have not seen this ticket yet.",
        current=current,
        clocks=clocks,
    )
