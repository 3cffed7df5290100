"""The audit trail of tickets, and the events other apps react to.

Each function writes a TicketEvent row and publishes to the outbox in the caller's
transaction. supportdesk/events.py says who reacts to which event name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core import outbox
from tickets.models import Attachment, Message, SatisfactionRating, Ticket, TicketEvent

if TYPE_CHECKING:
    from core.models import User


def _record(ticket: Ticket, actor: User | None, event_kind: str, **data: Any) -> TicketEvent:
    return TicketEvent.objects.create(ticket=ticket, actor=actor, kind=event_kind, data=data)


def _publish(name: str, ticket: Ticket, **payload: Any) -> None:
    outbox.publish(name, community_id=ticket.community_id, ticket_id=ticket.pk, **payload)


def ticket_opened(*, ticket: Ticket, actor: User) -> None:
    _record(ticket, actor, TicketEvent.Kind.OPENED, status=ticket.status, channel=ticket.channel)
    if ticket.status == "awaiting_approval":
        _publish("ticket.approval_requested", ticket)
    else:
        _publish("ticket.opened", ticket)


def ticket_status_changed(
    *, ticket: Ticket, actor: User | None, previous: str, transition: str, note: str
) -> None:
    _record(
        ticket,
        actor,
        TicketEvent.Kind.STATUS_CHANGED,
        transition=transition,
        previous=previous,
        status=ticket.status,
        note=note,
    )
    _publish(
        "ticket.status_changed",
        ticket,
        transition=transition,
        previous=previous,
        status=ticket.status,
    )
    if transition == "approve":
        _publish("ticket.approved", ticket)
    elif transition == "decline":
        _publish("ticket.declined", ticket, reason=note)
    elif ticket.status == "resolved":
        _publish("ticket.resolved", ticket)


def ticket_assigned(*, ticket: Ticket, actor: User | None, previous_id: int | None) -> None:
    _record(
        ticket, actor, TicketEvent.Kind.ASSIGNED, previous=previous_id, assignee=ticket.assignee_id
    )
    _publish("ticket.assigned", ticket, previous=previous_id, assignee=ticket.assignee_id)


def ticket_updated(
    *, ticket: Ticket, actor: User | None, changes: dict[str, list[Any]], reason: str = ""
) -> None:
    extra = {"reason": reason} if reason else {}
    _record(ticket, actor, TicketEvent.Kind.UPDATED, changes=changes, **extra)
    _publish("ticket.updated", ticket, fields=sorted(changes))


def message_added(*, message: Message) -> None:
    ticket = message.ticket
    _record(
        ticket,
        message.author,
        TicketEvent.Kind.MESSAGE_ADDED,
        message=message.pk,
        kind=message.kind,
    )
    _publish("ticket.message_added", ticket, message_id=message.pk, kind=message.kind)


def attachment_added(*, attachment: Attachment) -> None:
    _record(
        attachment.ticket,
        attachment.uploaded_by,
        TicketEvent.Kind.ATTACHMENT_ADDED,
        attachment=attachment.pk,
        filename=attachment.filename,
    )


def ticket_linked(*, ticket: Ticket, other: Ticket, actor: User) -> None:
    _record(ticket, actor, TicketEvent.Kind.LINKED, other=other.pk, reference=other.reference)
    _publish("ticket.linked", ticket, other=other.pk)


def ticket_unlinked(*, ticket: Ticket, other: Ticket, actor: User) -> None:
    _record(ticket, actor, TicketEvent.Kind.UNLINKED, other=other.pk, reference=other.reference)
    _publish("ticket.unlinked", ticket, other=other.pk)


def ticket_merged(*, source: Ticket, target: Ticket, actor: User) -> None:
    _record(source, actor, TicketEvent.Kind.MERGED, into=target.pk, reference=target.reference)
    _record(target, actor, TicketEvent.Kind.MERGED, source=source.pk, reference=source.reference)
    _publish("ticket.merged", source, into=target.pk)


def ticket_rated(*, rating: SatisfactionRating) -> None:
    _record(rating.ticket, rating.requester, TicketEvent.Kind.RATED, score=rating.score)
