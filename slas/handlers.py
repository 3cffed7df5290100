"""Reactions of the SLA clocks to ticket events (listed in supportdesk/events.py).

Every ticket event the clocks care about runs the same reaction: bring the ticket's clocks
up to date with its audit trail. The audit entries carry the time each change happened
(written in the same transaction as the event, so the same instant as
`event.occurred_at`), and the clocks use those times, never the time the worker runs: a
reaction that runs an hour late arms, pauses and meets clocks as of when things happened.
"""

from __future__ import annotations

from typing import Any

from core.models import Event
from slas.selectors import sla_setup
from slas.services.clocks import ticket_clocks_sync
from slas.services.replay import RECOMPUTED_BY, status_change_moves_clocks


def sync_ticket_clocks(*, event: Event) -> None:
    """Idempotent and order-proof: entries already applied are skipped, and a delivery that
    comes after a later one finds its entry applied already."""
    ticket_clocks_sync(ticket_id=int(event.payload["ticket_id"]))


def sync_many_ticket_clocks(*, events: list[Event]) -> None:
    """sync_ticket_clocks for a batch of events (core.outbox batches): each ticket once,
    however many of its events wait, in the order of the tickets' ids, so that two batches
    lock the clocks they share in the same order. The policies and calendars are read
    once for the batch."""
    setup = sla_setup()
    for ticket_id in sorted({int(event.payload["ticket_id"]) for event in events}):
        ticket_clocks_sync(ticket_id=ticket_id, setup=setup)


# Which events are worth a sync (`when` of the reactions in supportdesk/events.py). An event
# left out is not lost: its audit entry is replayed, at its own time, by the next sync.


def status_change_matters(payload: dict[str, Any]) -> bool:
    return status_change_moves_clocks(
        transition=payload.get("transition", ""),
        previous=payload.get("previous", ""),
        status=payload.get("status", ""),
    )


def update_matters(payload: dict[str, Any]) -> bool:
    return bool(RECOMPUTED_BY & set(payload.get("fields", ())))
