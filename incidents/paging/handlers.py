"""Reactions of paging to events (listed in supportdesk/events.py). Each is idempotent: a
delivery runs once (core.outbox), and a second trigger for the same open page attaches to it
and notifies nobody."""

from __future__ import annotations

import logging

from core.models import Event
from incidents.paging.models import CauseKind, Via
from incidents.paging.services.pages import trigger_page
from tickets.models import Severity, Ticket

logger = logging.getLogger(__name__)


def _ticket(ticket_id: int) -> Ticket | None:
    ticket = Ticket.objects.filter(pk=ticket_id).first()
    if ticket is None:
        logger.info("Ticket %s is gone; nothing to page", ticket_id)
    return ticket


def page_critical_ticket(*, event: Event) -> None:
    """ticket.critical: page whoever the critical-ticket policy says."""
    ticket = _ticket(int(event.payload["ticket_id"]))
    if ticket is None:
        return
    trigger_page(
        cause=CauseKind.CRITICAL_TICKET,
        dedup_key=f"ticket:{ticket.pk}:critical",
        title=f"Critical: {ticket.reference} {ticket.subject}",
        details=ticket.description[:2000],
        severity=Severity.CRITICAL,
        ticket=ticket,
        via=Via.SYSTEM,
        source_data={"event_id": event.pk, "tier": event.payload.get("tier")},
    )


def page_sla_breach(*, event: Event) -> None:
    """sla.breached: page by the ticket's severity (PolicyRoute); every breach of one ticket
    while its page is open attaches to that page."""
    ticket = _ticket(int(event.payload["ticket_id"]))
    if ticket is None:
        return
    metric = str(event.payload.get("metric") or "target").replace("_", " ")
    severity = event.payload.get("severity") or ticket.severity
    if severity not in Severity.values:
        severity = ticket.severity
    trigger_page(
        cause=CauseKind.SLA_BREACH,
        dedup_key=f"ticket:{ticket.pk}:sla",
        title=f"SLA breached ({metric}): {ticket.reference} {ticket.subject}",
        details=f"The {metric} target of {ticket.reference} was due at "
        f"{event.payload.get('due_at')}.",
        severity=severity,
        ticket=ticket,
        via=Via.SYSTEM,
        source_data={"event_id": event.pk, "metric": event.payload.get("metric")},
    )
