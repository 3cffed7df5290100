"""Tickets that belong together: links between related tickets, and merging duplicates."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction
from simple_history.utils import bulk_update_with_history

from core.errors import Forbidden
from tickets import events
from tickets.errors import LinkRefused, MergeRefused
from tickets.models import Attachment, Message, Ticket, TicketLink
from tickets.services.common import is_agent, refuse_if_changed
from tickets.services.lifecycle import apply_transition
from tickets.states import TRANSITIONS

if TYPE_CHECKING:
    from core.models import User


def _lock_pair(first: Ticket, second: Ticket) -> tuple[Ticket, Ticket]:
    """Both tickets locked, always in id order, so that two agents never deadlock."""
    rows = {
        t.pk: t for t in Ticket.objects.select_for_update().filter(pk__in=[first.pk, second.pk])
    }
    return rows[first.pk], rows[second.pk]


def ticket_link_add(*, ticket: Ticket, other: Ticket, actor: User) -> TicketLink:
    """Record that two tickets of one community are about related things."""
    if not is_agent(actor):
        raise Forbidden("Only agents link tickets.")
    if ticket.pk == other.pk:
        raise LinkRefused("A ticket cannot be linked to itself.", field="other")
    if ticket.community_id != other.community_id:
        raise LinkRefused("Only tickets of one community can be linked.", field="other")
    low, high = sorted((ticket, other), key=lambda t: t.pk)
    try:
        with transaction.atomic():
            link = TicketLink.objects.create(from_ticket=low, to_ticket=high, created_by=actor)
            events.ticket_linked(ticket=ticket, other=other, actor=actor)
            events.ticket_linked(ticket=other, other=ticket, actor=actor)
    except IntegrityError as exc:
        raise LinkRefused(f"{ticket.reference} and {other.reference} are linked already.",
                          field="other") from exc  # fmt: skip
    return link


def ticket_link_remove(*, ticket: Ticket, other: Ticket, actor: User) -> None:
    if not is_agent(actor):
        raise Forbidden("Only agents unlink tickets.")
    low, high = sorted((ticket.pk, other.pk))
    with transaction.atomic():
        deleted, _ = TicketLink.objects.filter(from_ticket_id=low, to_ticket_id=high).delete()
        if deleted:
            events.ticket_unlinked(ticket=ticket, other=other, actor=actor)
            events.ticket_unlinked(ticket=other, other=ticket, actor=actor)


def ticket_merge(
    *, source: Ticket, target: Ticket, actor: User, seen_event_id: int | None = None
) -> Ticket:
    """Merge a duplicate into the ticket that carries on.

    The duplicate's messages and files move to the target, an internal note on the target
    says where they came from, and the duplicate closes pointing at the target. Its requester
    is told by mail (a reaction to `ticket.merged`).
    """
    if not is_agent(actor):
        raise Forbidden("Only agents merge tickets.")
    if source.pk == target.pk:
        raise MergeRefused("A ticket cannot be merged into itself.", field="target")
    if source.community_id != target.community_id:
        raise MergeRefused("Only tickets of one community can be merged.", field="target")
    with transaction.atomic():
        source, target = _lock_pair(source, target)
        refuse_if_changed(ticket=source, seen_event_id=seen_event_id, actor=actor)
        if source.merged_into_id is not None or source.status not in TRANSITIONS["merge"].sources:
            raise MergeRefused(f"{source.reference} is closed; it cannot be merged.")
        if target.merged_into_id is not None:
            raise MergeRefused(f"{target.reference} was itself merged away.", field="target")
        moved = list(Message.objects.filter(ticket=source))
        for message in moved:
            message.ticket = target
        bulk_update_with_history(moved, Message, ["ticket"], default_user=actor)
        Attachment.objects.filter(ticket=source).update(ticket=target)
        note = Message(
            ticket=target,
            author=actor,
            kind=Message.Kind.INTERNAL,
            body=f"Merged {source.reference} ({source.subject}) into this ticket: "
            f"{len(moved)} message(s) moved here.",
        )
        note._history_user = actor  # type: ignore[attr-defined]
        note.save()
        events.message_added(message=note)
        source.merged_into = target
        source.save(update_fields=["merged_into"])
        apply_transition(
            ticket=source, name="merge", actor=None, note=f"Merged into {target.reference}"
        )
        events.ticket_merged(source=source, target=target, actor=actor)
    return target
