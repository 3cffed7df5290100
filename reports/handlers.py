"""Reactions (supportdesk/events.py): keep each ticket's budget-aware priority current and
tell people when a budget reaches 80 % or 100 %."""

from __future__ import annotations

from core.models import Event
from reports.budgets import budget_notices_send
from reports.priority import community_priorities_refresh, tickets_priority_refresh


def refresh_ticket_priority(*, event: Event) -> None:
    """A ticket entered the desk, changed kind, or was linked or unlinked: re-rank it and
    the ticket linked to it or unlinked from it (its communities-affected count moved too).
    A ticket that is gone is left alone."""
    refresh_ticket_priorities(events=[event])


def refresh_ticket_priorities(*, events: list[Event]) -> None:
    """refresh_ticket_priority for a batch of events (core.outbox batches), each ticket once,
    in a fixed number of queries."""
    tickets_priority_refresh(
        ticket_ids={
            pk
            for event in events
            for pk in (event.payload.get("ticket_id"), event.payload.get("other"))
            if pk
        }
    )


def kind_changed(payload: dict[str, object]) -> bool:
    fields = payload.get("fields") or []
    return isinstance(fields, list) and ("kind" in fields or "funded" in fields)


def budget_changed(*, event: Event) -> None:
    """Time was logged or removed on a community's ticket: re-rank its open tickets and send
    the budget notices that are due."""
    if event.community_id is None:
        return
    budget_notices_send(community_id=event.community_id)
    community_priorities_refresh(community_id=event.community_id)
