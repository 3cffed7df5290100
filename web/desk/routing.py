"""The desk's side of routing: the "Why was this routed here?" panel beside the ticket, and
the forms of its two actions, Re-route and Escalate (web.desk.views.routing)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django import forms
from django.http import HttpRequest
from django.utils.dateparse import parse_datetime

from routing.models import RoutingDecision, TierEscalation
from routing.selectors import (
    CandidateRow,
    RoutingExplanation,
    decisions_for,
    routing_decision_latest,
)
from tickets.models import Ticket
from web.desk.forms import TicketPageForm
from web.desk.panels import Panel

EARLIER_SHOWN = 10


class RerouteForm(TicketPageForm):
    id_prefix = "reroute"


class EscalateForm(TicketPageForm):
    id_prefix = "escalate"
    DIRECTIONS = (
        (TierEscalation.Direction.UP, "Up one tier"),
        (TierEscalation.Direction.DOWN, "Down one tier"),
    )

    direction = forms.ChoiceField(label="Direction", choices=DIRECTIONS)
    reason = forms.CharField(
        label="Reason",
        max_length=500,
        help_text="Kept in the ticket's history.",
        error_messages={"required": "Say why the ticket changes tier."},
    )


@dataclass(frozen=True)
class Candidate:
    row: CandidateRow
    community_worked_at: datetime | None

    @property
    def chosen(self) -> bool:
        return self.row.eligible and self.row.rank == 1


def _candidates(explanation: RoutingExplanation) -> list[Candidate]:
    """Those who could take it by rank, then those who could not, as the decision kept them."""
    rows = sorted(explanation.candidates, key=lambda c: (c.rank is None, c.rank or 0))
    return [
        Candidate(
            row=row,
            community_worked_at=(
                parse_datetime(row.community_worked_at) if row.community_worked_at else None
            ),
        )
        for row in rows
    ]


def _earlier(ticket: Ticket, explanation: RoutingExplanation) -> list[RoutingDecision]:
    if explanation.earlier_runs == 0:
        return []
    decisions = decisions_for(ticket).order_by("-created_at", "-id")
    return list(decisions[1 : 1 + EARLIER_SHOWN])


def routing_panel(request: HttpRequest, ticket: Ticket) -> Panel:
    """Why the ticket went where it is (routing.selectors.routing_decision_latest), with
    Re-route and Escalate. The desk is for agents only, so the viewer may see every decision."""
    explanation = routing_decision_latest(ticket)
    context: dict[str, object] = {
        "routing": explanation,
        "reroute_form": RerouteForm(),
        "escalate_form": EscalateForm(),
    }
    if explanation is not None:
        context["candidates"] = _candidates(explanation)
        context["eligible_count"] = sum(1 for c in explanation.candidates if c.eligible)
        context["earlier"] = _earlier(ticket, explanation)
    return Panel("Why was this routed here?", "desk/panels/routing.html", context)
