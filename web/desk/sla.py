"""The ticket page's "SLA clocks" panel: the policy that applies and why, the three clocks,
and the clocks' history, read through slas.selectors (the ticket has been access-checked)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.http import HttpRequest
from django.utils import timezone

from slas.models import ClockEvent, ClockState, Metric
from slas.selectors import Clock, ticket_clocks
from tickets.models import Ticket
from tickets.states import TicketStatus
from web.desk.panels import Panel
from web.templatetags.web import exact


def _when(raw: Any) -> str:
    return exact(datetime.fromisoformat(raw)) if isinstance(raw, str) else ""


def _target(minutes: Any) -> str:
    """A target as policies state it: '4 h', '24 h', '1 h 30 min', '15 min'."""
    hours, rest = divmod(minutes if isinstance(minutes, int) else 0, 60)
    if hours and rest:
        return f"{hours} h {rest} min"
    return f"{hours} h" if hours else f"{rest} min"


def _measure(business: Any) -> str:
    return "in business time" if business else "around the clock"


@dataclass(frozen=True)
class ClockRow:
    """One metric's latest clock; None when it has had none."""

    metric_label: str
    clock: Clock | None

    @property
    def state_label(self) -> str:
        return str(ClockState(self.clock.target.state).label) if self.clock else "Not started"

    @property
    def level(self) -> str:
        """The colour: ok, warning, breached, paused, met, cancelled, or none."""
        if self.clock is None:
            return "none"
        target, left = self.clock.target, self.clock.time_left
        if target.state == ClockState.BREACHED or (left is not None and left.total_seconds() < 0):
            return "breached"
        if target.state != ClockState.RUNNING:
            return str(target.state)
        warned = target.warned_at is not None or (
            target.warn_at is not None and target.warn_at <= timezone.now()
        )
        return "warning" if warned else "ok"

    @property
    def target_text(self) -> str:
        """'4 h in business time', '1 h around the clock'."""
        if self.clock is None:
            return ""
        target = self.clock.target
        return f"{_target(target.target_minutes)} {_measure(target.business)}"


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    metric_label: str
    kind: str
    kind_label: str
    actor: str
    details: str


def _details(event: ClockEvent) -> str:
    """What the entry's data says, in words."""
    data: dict[str, Any] = event.data or {}
    kind = event.kind
    if kind == ClockEvent.Kind.ARMED:
        target = _target(data.get("minutes"))
        return f"target {target} {_measure(data.get('business'))}, due {_when(data.get('due_at'))}"
    if kind == ClockEvent.Kind.PAUSED:
        status = data.get("status", "")
        label = TicketStatus(status).label if status in TicketStatus.values else status
        return f"ticket {str(label).lower()}" if label else ""
    if kind in (ClockEvent.Kind.RESUMED, ClockEvent.Kind.WARNED, ClockEvent.Kind.REOPENED):
        return f"due {_when(data.get('due_at'))}" if data.get("due_at") else ""
    if kind == ClockEvent.Kind.BREACHED:
        return f"was due {_when(data.get('due_at'))}" if data.get("due_at") else ""
    if kind == ClockEvent.Kind.MET:
        verdict = "in time" if data.get("in_time") else "late"
        return f"{data['by']}, {verdict}" if data.get("by") else verdict
    if kind == ClockEvent.Kind.CANCELLED:
        return str(data.get("reason", ""))
    if kind == ClockEvent.Kind.RECOMPUTED:
        before, after = data.get("before", {}), data.get("after", {})
        moved = f"due {_when(before.get('due_at'))} → {_when(after.get('due_at'))}"
        return f"{data['reason']}: {moved}" if data.get("reason") else moved
    return ""


def clock_history(clocks: list[Clock]) -> list[HistoryEntry]:
    """Every clock's history in one list, oldest first."""
    events = sorted(
        ((clock, event) for clock in clocks for event in clock.history),
        key=lambda pair: (pair[1].at, pair[1].pk),
    )
    return [
        HistoryEntry(
            at=event.at,
            metric_label=clock.metric_label,
            kind=event.kind,
            kind_label=str(ClockEvent.Kind(event.kind).label),
            actor=event.actor.display_name if event.actor else "",
            details=_details(event),
        )
        for clock, event in events
    ]


def sla_panel(request: HttpRequest, ticket: Ticket) -> Panel:
    sla = ticket_clocks(ticket)
    return Panel(
        "SLA clocks",
        "desk/panels/sla.html",
        {
            "sla": sla,
            "sla_rows": [ClockRow(str(m.label), sla.current[m.value]) for m in Metric],
            "sla_history": clock_history(sla.clocks),
        },
    )
