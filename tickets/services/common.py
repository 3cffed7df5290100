"""Helpers every ticket service uses."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError

from tickets.errors import TicketChanged
from tickets.models import Ticket, TicketEvent

if TYPE_CHECKING:
    from core.models import User


def is_agent(user: User) -> bool:
    return bool(user.is_active and user.is_staff)


def require_text(value: str, field: str) -> str:
    value = value.strip()
    if not value:
        raise ValidationError(
            {field: ValidationError("This field may not be blank.", code="blank")}
        )
    return value


def locked(ticket: Ticket | int) -> Ticket:
    """The ticket, locked FOR UPDATE until the end of the caller's transaction."""
    ticket_id = ticket if isinstance(ticket, int) else ticket.pk
    return Ticket.objects.select_for_update().get(pk=ticket_id)


def refuse_if_changed(*, ticket: Ticket, seen_event_id: int | None, actor: User | None) -> None:
    """Collision guard: refuse when someone else changed the ticket after the actor loaded it.

    `seen_event_id` is the newest audit event the actor's page showed (None: no guard). The
    caller holds the ticket's row lock, so no change can slip in between check and write.
    """
    if seen_event_id is None:
        return
    newer = TicketEvent.objects.filter(ticket=ticket, pk__gt=seen_event_id)
    if actor is not None:
        newer = newer.exclude(actor=actor)
    changes = list(newer.order_by("pk").values_list("pk", flat=True))
    if changes:
        raise TicketChanged(
            f"{ticket.reference} changed since you opened it.", events=changes, latest=changes[-1]
        )
