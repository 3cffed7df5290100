"""Reactions of routing to events (listed in supportdesk/events.py). Each is idempotent:
a delivery that runs twice changes nothing the second time."""

from __future__ import annotations

import logging

from core.models import Event
from routing.models import RoutingDecision
from routing.services.routing import (
    ticket_escalate_for_breach,
    ticket_route,
    tickets_route,
    waiting_tickets_assign,
)
from tickets.models import Ticket

logger = logging.getLogger(__name__)


def _first_run(event: Event) -> str:
    if event.name == "ticket.approved":
        return RoutingDecision.Trigger.APPROVED
    return RoutingDecision.Trigger.OPENED


def route_ticket(*, event: Event) -> None:
    """ticket.opened / ticket.approved: route the ticket (once: a repeat finds the first
    decision and does nothing)."""
    try:
        ticket_route(ticket=int(event.payload["ticket_id"]), trigger=_first_run(event))
    except Ticket.DoesNotExist:
        logger.info("Ticket %s is gone; nothing to route", event.payload["ticket_id"])


def route_tickets(*, events: list[Event]) -> None:
    """route_ticket for a batch of events, in one transaction (core.outbox batches)."""
    tickets_route(tickets=[(int(e.payload["ticket_id"]), _first_run(e)) for e in events])


def assign_waiting_tickets(*, event: Event) -> None:
    """agent.capacity_changed: an agent came back or took on more; give them waiting work."""
    waiting_tickets_assign()


def escalate_on_sla_breach(*, event: Event) -> None:
    """sla.breached: move the ticket one tier up, once per breach (the event's id)."""
    target = event.payload.get("metric") or "a target"
    ticket_escalate_for_breach(
        ticket_id=int(event.payload["ticket_id"]),
        event_id=event.pk,
        reason=f"SLA breached: {str(target).replace('_', ' ')}",
    )
