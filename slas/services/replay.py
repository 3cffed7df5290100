"""The engine behind slas.services.clocks: applies a ticket's audit entries to its clocks
(arm, pause, resume, meet, cancel, reopen, recompute) and keeps their history. The caller
holds the ticket's TicketSLA row lock; see slas.services.clocks for how it is driven."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db.models import QuerySet

from slas.business_time import ZERO, Schedule
from slas.clock import TargetRule, due, measure_of, parse_pauses, pauses_total, used, warning
from slas.models import (
    ACTIVE_STATES,
    BusinessCalendar,
    ClockEvent,
    ClockState,
    Metric,
    SLATarget,
    TicketSLA,
)
from slas.selectors import SLASetup, rule_of_policy, schedule_of, sla_setup
from tickets.models import Message, Ticket, TicketEvent
from tickets.states import ACTIVE, TicketStatus

if TYPE_CHECKING:
    from core.models import User

# Statuses in which the desk works on a ticket (awaiting approval is not one of them).
WORKING = frozenset(ACTIVE)
# Statuses in which the next-update and resolution clocks stand still.
ALWAYS_PAUSED = frozenset({TicketStatus.WAITING_ON_CUSTOMER})
PAUSED_IF_POLICY_SAYS = frozenset({TicketStatus.PENDING})
PAUSABLE = (Metric.NEXT_UPDATE, Metric.RESOLUTION)
# A ticket's fields whose change recomputes its clocks (the policy is matched on them).
RECOMPUTED_BY = frozenset({"severity", "kind"})
# Transitions that arm, meet, cancel or reopen clocks whatever the statuses.
_CLOCK_TRANSITIONS = frozenset({"approve", "decline", "merge", "reopen", "resolve", "close"})
# Audit entries written by one service call, in one transaction, lie this close together.
SAME_CHANGE_WITHIN = timedelta(seconds=1)


def rule_of_target(target: SLATarget) -> TargetRule:
    return TargetRule(
        minutes=target.target_minutes,
        business=target.business,
        warn_percent=target.warn_percent,
        warn_minutes_before=target.warn_minutes_before,
        notify_around_the_clock=target.notify_around_the_clock,
    )


def _iso(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat()


def _standing(status: str) -> tuple[bool, bool, bool]:
    """What a status means to the clocks (see ClockReplay.reconcile)."""
    return status in WORKING, status in ALWAYS_PAUSED, status in PAUSED_IF_POLICY_SAYS


def status_change_moves_clocks(*, transition: str, previous: str, status: str) -> bool:
    """Whether replaying this status change can change a clock. False for a change between
    statuses the clocks treat alike (new → assigned, open → in progress): the replay would
    note the status and do nothing else, and the next change that matters replays it."""
    return (
        transition in _CLOCK_TRANSITIONS
        or status in (TicketStatus.RESOLVED, TicketStatus.CLOSED)
        or _standing(previous) != _standing(status)
    )


def same_change(entry: TicketEvent, following: TicketEvent) -> bool:
    """Audit entries one service call wrote together (same actor, same moment)."""
    return (
        entry.actor_id == following.actor_id
        and following.created_at - entry.created_at < SAME_CHANGE_WITHIN
    )


@dataclass
class _Opening:
    severity: str
    kind: str


def replayed_tickets() -> QuerySet[Ticket]:
    """Tickets as the replay reads them: with their community and its plan."""
    return Ticket.objects.select_related("community__service_plan")


class ClockReplay:
    """Applies audit entries to one ticket's clocks. The caller holds the TicketSLA lock."""

    def __init__(
        self,
        *,
        sla: TicketSLA,
        entries: Sequence[TicketEvent],
        ticket: Ticket | None = None,
        setup: SLASetup | None = None,
    ) -> None:
        self.sla = sla
        self.entries = entries
        self.ticket = ticket or replayed_tickets().get(pk=sla.ticket_id)
        self._setup = setup
        self.active: dict[str, SLATarget] = {
            t.metric: t
            for t in SLATarget.objects.select_for_update().filter(
                ticket_id=sla.ticket_id, state__in=ACTIVE_STATES
            )
        }
        self._schedules: dict[int | None, Schedule | None] = {}

    # ------------------------------------------------------------ the audit trail

    def apply(self, entry: TicketEvent) -> None:
        at, data, actor = entry.created_at, entry.data, entry.actor
        if entry.kind == TicketEvent.Kind.OPENED:
            self._opened(at=self.ticket.created_at, status=data.get("status", ""), actor=actor)
        elif entry.kind == TicketEvent.Kind.STATUS_CHANGED:
            self._status_changed(
                at=at, transition=data.get("transition", ""), status=data["status"], actor=actor
            )
        elif entry.kind == TicketEvent.Kind.UPDATED:
            changes: dict[str, list[Any]] = data.get("changes", {})
            if not RECOMPUTED_BY & set(changes):
                return
            what = []
            for field in ("severity", "kind"):
                if field in changes:
                    before, after = changes[field]
                    setattr(self.sla, field, after)
                    what.append(f"{field} changed from {before} to {after}")
            self.recompute(at=at, actor=actor, reason="; ".join(what))
        elif entry.kind == TicketEvent.Kind.MESSAGE_ADDED:
            if data.get("kind") != Message.Kind.PUBLIC:
                return  # internal notes never count
            self._public_message(at=at, actor=actor)

    def _fields_at_opening(self) -> _Opening:
        """Severity and kind as the ticket was opened: the values before the first change of
        each in the entries still to replay, else the ticket's current ones."""
        found = {"severity": self.ticket.severity, "kind": self.ticket.kind}
        seen: set[str] = set()
        for entry in self.entries:
            if entry.kind != TicketEvent.Kind.UPDATED:
                continue
            for field, (before, _after) in entry.data.get("changes", {}).items():
                if field in found and field not in seen:
                    found[field] = before
                    seen.add(field)
        return _Opening(severity=found["severity"], kind=found["kind"])

    def _opened(self, *, at: datetime, status: str, actor: User | None) -> None:
        opening = self._fields_at_opening()
        self.sla.status = status or self.ticket.status
        self.sla.severity, self.sla.kind = opening.severity, opening.kind
        # The description is the customer's first message: the first response answers it.
        self.sla.awaiting_reply_since = at
        self._match()
        self._arm(Metric.FIRST_RESPONSE, started=at, at=at, actor=actor)
        if self.sla.status != TicketStatus.AWAITING_APPROVAL:
            self.sla.working_since = at
            self._arm(Metric.RESOLUTION, started=at, at=at, actor=actor)

    def _status_changed(
        self, *, at: datetime, transition: str, status: str, actor: User | None
    ) -> None:
        self.sla.status = status
        if transition in ("decline", "merge"):
            for target in list(self.active.values()):
                self.cancel(target, at=at, actor=actor, reason=f"ticket {transition}d")
        elif status == TicketStatus.RESOLVED or (
            status == TicketStatus.CLOSED and transition == "close"
        ):
            for target in list(self.active.values()):
                self._meet(target, at=at, actor=actor, by=transition)
            self.sla.awaiting_reply_since = None
        elif transition == "approve":
            self.sla.working_since = at
            self._arm(Metric.RESOLUTION, started=at, at=at, actor=actor)
        elif transition == "reopen":
            self.sla.working_since = at
            self._reopen_resolution(at=at, actor=actor)

    def _public_message(self, *, at: datetime, actor: User | None) -> None:
        from_desk = actor is not None and actor.is_staff and actor.pk != self.ticket.requester_id
        if from_desk:
            for metric in (Metric.FIRST_RESPONSE, Metric.NEXT_UPDATE):
                if metric in self.active:
                    self._meet(self.active[metric], at=at, actor=actor, by="public reply")
            self.sla.awaiting_reply_since = None
        elif self.sla.awaiting_reply_since is None:
            self.sla.awaiting_reply_since = at

    def check_plan(self, *, at: datetime) -> None:
        plan_id = self.ticket.community.service_plan_id
        if self.sla.plan_id is not None and self.sla.plan_id != plan_id:
            self.recompute(
                at=at,
                actor=None,
                reason=f"the community's plan changed from {self.sla.plan} to "
                f"{self.ticket.community.service_plan}",
            )

    # ------------------------------------------------------------ keeping clocks in line

    def reconcile(self, *, at: datetime, actor: User | None) -> None:
        """Arm next update when a customer's message waits for an answer, and pause or
        resume what the ticket's status says."""
        policy = self.sla.policy
        waiting_since = self.sla.awaiting_reply_since
        if (
            policy is not None
            and policy.next_update_minutes
            and waiting_since is not None
            and self.sla.status in WORKING
            and Metric.NEXT_UPDATE not in self.active
            # The first response answers the first message; next update never overrules it.
            and Metric.FIRST_RESPONSE not in self.active
        ):
            since = self.sla.working_since
            started = max(waiting_since, since) if since is not None else waiting_since
            self._arm(Metric.NEXT_UPDATE, started=started, at=at, actor=actor)
        for metric in PAUSABLE:
            target = self.active.get(metric)
            if target is None or target.state == ClockState.BREACHED:
                continue
            stands_still = self.sla.status in ALWAYS_PAUSED or (
                self.sla.status in PAUSED_IF_POLICY_SAYS and target.pause_when_pending
            )
            if stands_still and target.state == ClockState.RUNNING:
                self._pause(target, at=at, actor=actor)
            elif not stands_still and target.state == ClockState.PAUSED:
                self._resume(target, at=at, actor=actor)

    @property
    def setup(self) -> SLASetup:
        """The policies and calendars, read when first needed (most replays need none)."""
        if self._setup is None:
            self._setup = sla_setup()
        return self._setup

    def _match(self) -> None:
        community = self.ticket.community
        plan = community.service_plan
        match = self.setup.policy_match(
            plan=plan, community=community, severity=self.sla.severity, kind=self.sla.kind
        )
        calendar = self.setup.calendar_for(community_id=community.pk, plan_id=plan.pk)
        where = (
            f"Business time follows the calendar “{calendar}” ({calendar.time_zone})."
            if calendar is not None
            else "No calendar applies: business time counts every hour."
        )
        self.sla.policy = match.policy
        self.sla.match_reason = f"{match.reason} {where}"
        self.sla.plan = plan
        self.sla.calendar = calendar

    def _schedule(self, calendar_id: int | None) -> Schedule | None:
        if calendar_id is None:
            return None
        if calendar_id not in self._schedules:
            schedules = self.setup.schedules
            self._schedules[calendar_id] = (
                schedules[calendar_id]
                if calendar_id in schedules
                else schedule_of(BusinessCalendar.objects.filter(pk=calendar_id).first())
            )
        return self._schedules[calendar_id]

    def _log(
        self,
        target: SLATarget,
        kind: str,
        *,
        at: datetime,
        actor: User | None,
        **data: Any,
    ) -> None:
        ClockEvent.objects.create(
            target=target, ticket_id=target.ticket_id, kind=kind, at=at, actor=actor, data=data
        )

    def _arm(
        self, metric: str, *, started: datetime, at: datetime, actor: User | None
    ) -> SLATarget | None:
        policy = self.sla.policy
        if policy is None or metric in self.active:
            return None
        rule = rule_of_policy(policy, metric)
        if rule is None:
            return None
        schedule = self._schedule(self.sla.calendar_id)
        measure = measure_of(business=rule.business, schedule=schedule)
        due_at = due(measure=measure, started=started, rule=rule, paused=ZERO)
        target = SLATarget.objects.create(
            ticket_id=self.sla.ticket_id,
            community_id=self.ticket.community_id,
            metric=metric,
            policy=policy,
            calendar=self.sla.calendar,
            plan=self.sla.plan,
            severity=self.sla.severity,
            target_minutes=rule.minutes,
            business=rule.business,
            warn_percent=rule.warn_percent,
            warn_minutes_before=rule.warn_minutes_before,
            notify_around_the_clock=rule.notify_around_the_clock,
            pause_when_pending=policy.pause_when_pending,
            started_at=started,
            due_at=due_at,
            warn_at=warning(
                measure=measure,
                notices=schedule,
                started=started,
                rule=rule,
                paused=ZERO,
                due_at=due_at,
            ),
            created_at=at,
            updated_at=at,
        )
        self._log(
            target,
            ClockEvent.Kind.ARMED,
            at=at,
            actor=actor,
            policy=policy.name,
            started_at=started.isoformat(),
            due_at=due_at.isoformat(),
            minutes=rule.minutes,
            business=rule.business,
        )
        self.active[metric] = target
        return target

    def _refresh(self, target: SLATarget) -> None:
        """Due and warning times from the start, the target and the closed pauses."""
        measure = measure_of(business=target.business, schedule=self._schedule(target.calendar_id))
        paused = pauses_total(measure, parse_pauses(target.pauses))
        rule = rule_of_target(target)
        target.paused_seconds = int(paused.total_seconds())
        target.due_at = due(measure=measure, started=target.started_at, rule=rule, paused=paused)
        if target.warned_at is None:
            target.warn_at = warning(
                measure=measure,
                notices=self._schedule(target.calendar_id),
                started=target.started_at,
                rule=rule,
                paused=paused,
                due_at=target.due_at,
            )

    def _close_pause(self, target: SLATarget, *, at: datetime) -> None:
        if target.paused_since is not None:
            start = min(target.paused_since, at)
            target.pauses = [*target.pauses, [_iso(start), _iso(at)]]
            target.paused_since = None

    def _save(self, target: SLATarget, at: datetime) -> None:
        target.updated_at = max(at, target.updated_at)
        target.save()

    def _pause(self, target: SLATarget, *, at: datetime, actor: User | None) -> None:
        target.state = ClockState.PAUSED
        target.paused_since = at
        self._save(target, at)
        self._log(target, ClockEvent.Kind.PAUSED, at=at, actor=actor, status=self.sla.status)

    def _resume(self, target: SLATarget, *, at: datetime, actor: User | None) -> None:
        self._close_pause(target, at=at)
        target.state = ClockState.RUNNING
        self._refresh(target)
        self._save(target, at)
        self._log(
            target,
            ClockEvent.Kind.RESUMED,
            at=at,
            actor=actor,
            status=self.sla.status,
            due_at=target.due_at.isoformat(),
        )

    def _meet(self, target: SLATarget, *, at: datetime, actor: User | None, by: str) -> None:
        self._close_pause(target, at=at)
        self._refresh(target)
        measure = measure_of(business=target.business, schedule=self._schedule(target.calendar_id))
        spent = used(
            measure=measure,
            started=target.started_at,
            until=at,
            paused=timedelta(seconds=target.paused_seconds),
        )
        target.used_seconds = max(int(spent.total_seconds()), 0)
        target.state = ClockState.MET
        target.met_at = at
        self._save(target, at)
        self._log(
            target,
            ClockEvent.Kind.MET,
            at=at,
            actor=actor,
            by=by,
            in_time=target.breached_at is None and at <= target.due_at,
            used_seconds=target.used_seconds,
        )
        del self.active[target.metric]

    def cancel(self, target: SLATarget, *, at: datetime, actor: User | None, reason: str) -> None:
        self._close_pause(target, at=at)
        target.state = ClockState.CANCELLED
        target.cancelled_at = at
        self._save(target, at)
        self._log(target, ClockEvent.Kind.CANCELLED, at=at, actor=actor, reason=reason)
        del self.active[target.metric]

    def _reopen_resolution(self, *, at: datetime, actor: User | None) -> None:
        """Reopening resumes the resolution clock with the time already used: the time the
        ticket spent resolved counts as a pause."""
        if Metric.RESOLUTION in self.active:
            return
        last = (
            SLATarget.objects.select_for_update()
            .filter(ticket_id=self.sla.ticket_id, metric=Metric.RESOLUTION)
            .order_by("-created_at", "-id")
            .first()
        )
        if last is None or last.state != ClockState.MET or last.met_at is None:
            self._arm(Metric.RESOLUTION, started=at, at=at, actor=actor)
            return
        resolved_at = last.met_at
        last.pauses = [*last.pauses, [_iso(min(resolved_at, at)), _iso(at)]]
        last.met_at = None
        last.used_seconds = None
        last.state = ClockState.BREACHED if last.breached_at else ClockState.RUNNING
        self._refresh(last)
        self._save(last, at)
        self._log(
            last,
            ClockEvent.Kind.REOPENED,
            at=at,
            actor=actor,
            resolved_at=resolved_at.isoformat(),
            due_at=last.due_at.isoformat(),
        )
        self.active[Metric.RESOLUTION] = last

    def recompute(self, *, at: datetime, actor: User | None, reason: str) -> int:
        """Match the policy again and recompute the running clocks from their original start
        with the new targets; a clock the new policy has no target for is cancelled. A
        breach already recorded stays recorded."""
        before_policy = self.sla.policy
        self._match()
        policy = self.sla.policy
        changed = 0
        for metric, target in list(self.active.items()):
            rule = rule_of_policy(policy, metric) if policy is not None else None
            if rule is None:
                self.cancel(
                    target,
                    at=at,
                    actor=actor,
                    reason=f"{reason}; {policy or 'no policy'} has no {metric} target",
                )
                changed += 1
                continue
            before = {
                "policy": str(target.policy or before_policy or ""),
                "minutes": target.target_minutes,
                "business": target.business,
                "due_at": target.due_at.isoformat(),
            }
            target.policy = policy
            target.calendar = self.sla.calendar
            target.plan = self.sla.plan
            target.severity = self.sla.severity
            target.target_minutes = rule.minutes
            target.business = rule.business
            target.warn_percent = rule.warn_percent
            target.warn_minutes_before = rule.warn_minutes_before
            target.notify_around_the_clock = rule.notify_around_the_clock
            assert policy is not None
            target.pause_when_pending = policy.pause_when_pending
            self._refresh(target)
            self._save(target, at)
            self._log(
                target,
                ClockEvent.Kind.RECOMPUTED,
                at=at,
                actor=actor,
                reason=reason,
                before=before,
                after={
                    "policy": str(policy),
                    "minutes": target.target_minutes,
                    "business": target.business,
                    "due_at": target.due_at.isoformat(),
                },
            )
            changed += 1
        if (
            policy is not None
            and self.sla.status in WORKING
            and Metric.RESOLUTION not in self.active
            and not SLATarget.objects.filter(
                ticket_id=self.sla.ticket_id, metric=Metric.RESOLUTION
            ).exists()
        ):
            started = self.sla.working_since or at
            if self._arm(Metric.RESOLUTION, started=started, at=at, actor=actor) is not None:
                changed += 1
        return changed
