"""Replies and internal notes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from core.errors import NotFound
from tickets import events
from tickets.errors import InternalNoteNotAllowed, TicketClosed
from tickets.models import Channel, Message, Ticket
from tickets.selectors import actor_roles
from tickets.services.attachments import attachment_check, attachment_store
from tickets.services.common import locked, refuse_if_changed, require_text
from tickets.services.lifecycle import apply_transition
from tickets.states import TRANSITIONS, Actor, TicketStatus

if TYPE_CHECKING:
    from core.models import User


def message_add(
    *,
    ticket: Ticket | int,
    author: User,
    body: str,
    kind: str = Message.Kind.PUBLIC,
    channel: str = Channel.PORTAL,
    attachments: Sequence[UploadedFile[bytes]] = (),
    seen_event_id: int | None = None,
) -> Message:
    """Add a public reply or an internal note, with its files.

    An agent's first public reply is the ticket's first response. A reply from the
    customer's side brings a ticket that waits on the customer back to work; a
    representative's reply reopens a resolved ticket. A closed ticket takes only notes.
    With `seen_event_id`, a reply to a ticket someone else changed since is refused
    (TicketChanged), so that the agent sees what changed first.
    """
    body = require_text(body, "body")
    checked = [attachment_check(upload) for upload in attachments]
    with transaction.atomic():
        ticket = locked(ticket)
        roles = actor_roles(user=author, ticket=ticket)
        if not roles:
            raise NotFound("No such ticket.")
        from_agent = Actor.STAFF in roles
        if kind == Message.Kind.INTERNAL and not from_agent:
            raise InternalNoteNotAllowed("Only agents write internal notes.", field="kind")
        if kind == Message.Kind.PUBLIC and ticket.status == TicketStatus.CLOSED and not from_agent:
            raise TicketClosed("This ticket is closed; please open a new request.")
        refuse_if_changed(ticket=ticket, seen_event_id=seen_event_id, actor=author)
        message = Message(ticket=ticket, author=author, kind=kind, body=body, channel=channel)
        message._history_user = author  # type: ignore[attr-defined]
        message.save()
        for upload in checked:
            attachment_store(ticket=ticket, message=message, uploaded_by=author, checked=upload)
        events.message_added(message=message)
        if kind == Message.Kind.PUBLIC:
            _after_public_reply(ticket=ticket, author=author, roles=roles, at=message.created_at)
    return message


def _after_public_reply(
    *, ticket: Ticket, author: User, roles: frozenset[Actor], at: datetime
) -> None:
    from_desk = Actor.STAFF in roles and author.pk != ticket.requester_id
    if from_desk:
        if ticket.first_responded_at is None:
            ticket.first_responded_at = at
        ticket.updated_at = at
        ticket.save(update_fields=["first_responded_at", "updated_at"])
        return
    if ticket.status == TicketStatus.WAITING_ON_CUSTOMER:
        apply_transition(ticket=ticket, name="customer_replied", actor=author)
    elif ticket.status == TicketStatus.RESOLVED and roles & TRANSITIONS["reopen"].actors:
        apply_transition(ticket=ticket, name="reopen", actor=author)
    else:
        ticket.updated_at = at
        ticket.save(update_fields=["updated_at"])
