"""Reads of tickets, and the tenancy rule for tickets, messages and attachments.

Staff see every ticket. A community's representatives see all of its tickets; any other
member sees the tickets they requested. Internal notes, and the files attached to them,
are never visible to anyone but staff. "Missing" and "not yours" are the same: the scope
simply does not contain the row.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from django.conf import settings
from django.db.models import Prefetch, Q, QuerySet

from communities.models import Membership
from communities.selectors import membership_roles
from core.errors import NotFound
from tickets.models import Attachment, Message, SatisfactionRating, Ticket, TicketEvent
from tickets.states import TRANSITIONS, Actor, Transition

if TYPE_CHECKING:
    from core.models import User


def _is_staff(user: User) -> bool:
    return bool(user.is_active and user.is_staff)


def ticket_scope(user: User) -> QuerySet[Ticket]:
    tickets = Ticket.objects.all()
    if _is_staff(user):
        return tickets
    # The user's few communities are looked up first and inlined: PostgreSQL plans a literal
    # list far better than a subquery it cannot size (measured: 15-24 ms -> 1 ms at 100k).
    roles = membership_roles(user)
    represented = [c for c, role in roles.items() if role == Membership.Role.REPRESENTATIVE]
    joined = [c for c, role in roles.items() if role != Membership.Role.REPRESENTATIVE]
    if not roles:
        return tickets.none()
    return tickets.filter(
        Q(community_id__in=represented) | Q(requester_id=user.pk, community_id__in=joined)
    )


def message_scope(user: User) -> QuerySet[Message]:
    messages = Message.objects.filter(ticket__in=ticket_scope(user))
    if _is_staff(user):
        return messages
    return messages.filter(kind=Message.Kind.PUBLIC)


def attachment_scope(user: User) -> QuerySet[Attachment]:
    attachments = Attachment.objects.filter(ticket__in=ticket_scope(user))
    if _is_staff(user):
        return attachments
    return attachments.filter(Q(message__isnull=True) | Q(message__kind=Message.Kind.PUBLIC))


def ticket_event_scope(user: User) -> QuerySet[TicketEvent]:
    events = TicketEvent.objects.filter(ticket__in=ticket_scope(user))
    if _is_staff(user):
        return events
    # Members see what happened to their ticket, not the desk's internal notes.
    return events.exclude(kind=TicketEvent.Kind.MESSAGE_ADDED, data__kind=Message.Kind.INTERNAL)


def ticket_list(user: User) -> QuerySet[Ticket]:
    """Tickets as lists show them: everything a row renders, in a fixed number of queries."""
    return (
        ticket_scope(user)
        .select_related("community", "requester", "assignee", "category")
        .defer("description", "search")
    )


def parse_reference(reference: str) -> int | None:
    """`SD-1042`, `sd-1042` or `1042` -> 1042; anything else -> None."""
    prefix = re.escape(settings.TICKET_REFERENCE_PREFIX)
    match = re.fullmatch(rf"(?:{prefix}-)?(\d{{1,18}})", reference.strip(), flags=re.IGNORECASE)
    return int(match.group(1)) if match else None


def ticket_get(*, user: User, reference: str) -> Ticket:
    """The ticket `reference` names, if `user` may see it; otherwise NotFound."""
    ticket_id = parse_reference(reference)
    ticket = (
        ticket_scope(user)
        .select_related("community", "requester", "assignee", "category")
        .filter(pk=ticket_id)
        .first()
        if ticket_id is not None
        else None
    )
    if ticket is None:
        raise NotFound("No such ticket.")
    return ticket


def ticket_messages(*, user: User, ticket: Ticket) -> QuerySet[Message]:
    return (
        message_scope(user)
        .filter(ticket=ticket)
        .select_related("author")
        .prefetch_related(Prefetch("attachments", queryset=Attachment.objects.order_by("id")))
    )


def actor_roles(*, user: User, ticket: Ticket) -> frozenset[Actor]:
    """What `user` is to `ticket`, for the transition table."""
    roles: set[Actor] = set()
    if _is_staff(user):
        roles.add(Actor.STAFF)
    memberships = dict(
        user.memberships.filter(community_id=ticket.community_id).values_list(
            "community_id", "role"
        )
    )
    if ticket.community_id in memberships:
        if memberships[ticket.community_id] == "representative":
            roles.add(Actor.REPRESENTATIVE)
        if ticket.requester_id == user.pk:
            roles.add(Actor.REQUESTER)
    return frozenset(roles)


def transitions_available(*, user: User, ticket: Ticket) -> list[Transition]:
    """The transitions `user` may ask for by name on `ticket` now, in table order."""
    roles = actor_roles(user=user, ticket=ticket)
    has_assignee = ticket.assignee_id is not None
    return [
        t
        for t in TRANSITIONS.values()
        if not t.automatic
        and ticket.status in t.sources
        and roles & t.actors
        and t.requires_assignee in (None, has_assignee)
    ]


def survey_waiting(*, ticket: Ticket) -> SatisfactionRating | None:
    """The ticket's satisfaction survey that still waits for an answer, if there is one
    (at most one: `one_open_survey_per_ticket`). The caller has checked access to the ticket."""
    return SatisfactionRating.objects.filter(ticket=ticket, answered_at__isnull=True).first()
