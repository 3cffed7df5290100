"""The routing panel's actions on the ticket page: run the rules again, and move the ticket
one tier up or down with a reason (routing.services)."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.views.decorators.http import require_POST

from routing.models import RoutingDecision
from routing.services import ticket_escalate, ticket_reroute
from tickets.models import Ticket, Tier
from web.access import agent_required, current_user
from web.desk.routing import EscalateForm, RerouteForm
from web.desk.views.common import HtmxHttpRequest
from web.desk.views.ticket import act


def _rerouted(decision: RoutingDecision) -> str:
    where = f"Re-routed to the {Tier(decision.tier).label.lower()} tier"
    name = decision.assignee.display_name if decision.assignee else ""
    if decision.outcome == RoutingDecision.Outcome.ASSIGNED:
        return f"{where}: assigned to {name}."
    if decision.outcome == RoutingDecision.Outcome.KEPT:
        return f"{where}: it stays with {name}."
    return f"{where}: it waits for an agent."


@agent_required
@require_POST
def reroute(request: HtmxHttpRequest, reference: str) -> HttpResponse:
    """Run the routing rules again and record a new decision."""

    def call(ticket: Ticket, data: dict[str, Any]) -> str:
        decision = ticket_reroute(
            ticket=ticket, actor=current_user(request), seen_event_id=data["seen_event_id"]
        )
        return _rerouted(decision)

    return act(request, reference, name="reroute", form=RerouteForm(request.POST), call=call)


@agent_required
@require_POST
def escalate(request: HtmxHttpRequest, reference: str) -> HttpResponse:
    """One tier up or down, with the reason kept in the ticket's history."""

    def call(ticket: Ticket, data: dict[str, Any]) -> str:
        escalation = ticket_escalate(
            ticket=ticket,
            direction=data["direction"],
            reason=data["reason"],
            actor=current_user(request),
            seen_event_id=data["seen_event_id"],
        )
        moved = "up" if escalation.direction == "up" else "down"
        return (
            f"Escalated {moved}: {Tier(escalation.from_tier).label} → "
            f"{Tier(escalation.to_tier).label}."
        )

    return act(request, reference, name="escalate", form=EscalateForm(request.POST), call=call)
