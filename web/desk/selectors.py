"""The desk's reads. Tickets and what hangs off them are read through the tenancy scopes of
tickets.selectors and communities.selectors (agents see every community, but the desk still
starts from the scope, like every other view)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.conf import settings
from django.db.models import Q, QuerySet

from communities.models import TimeEntry
from communities.selectors import time_entry_scope
from core.models import User
from core.selectors import agent_list
from tickets.models import Attachment, Macro, SatisfactionRating, Ticket, TicketEvent, TicketLink
from tickets.selectors import attachment_scope, ticket_event_scope, ticket_list, ticket_scope
from web.models import SavedFilter

if TYPE_CHECKING:
    from simple_history.models import HistoricalChanges


# When this process last read the agents, and what it read (agents_listed).
_agents_read: tuple[float, list[User]] = (float("-inf"), [])


def agents_listed() -> list[User]:
    """The agents, as core.selectors.agent_list() lists them, read by this process at most
    settings.DESK_AGENT_LIST_SECONDS ago: the desk's pages offer them in a select on every
    load (two on the queue page), and agents come and go seldom. Only for showing: a posted
    form checks its choice against agent_list() itself (docs/architecture.md)."""
    global _agents_read
    read_at, agents = _agents_read
    now = time.monotonic()
    if now - read_at >= settings.DESK_AGENT_LIST_SECONDS:
        agents = list(agent_list())
        _agents_read = (now, agents)
    return agents


# The columns a row of the queue table shows (templates/desk/queue.html), people by
# User.display_name. Loading only these, rather than every column of the ticket and of both
# users (password hashes, six timestamps a ticket), makes a page of 50 rows 3 ms cheaper.
_PERSON = ("first_name", "last_name", "email")
QUEUE_ROW_FIELDS = (
    "subject", "severity", "tier", "status", "assignee_id", "created_at", "updated_at",
    "community__name",
    *(f"requester__{name}" for name in _PERSON),
    *(f"assignee__{name}" for name in _PERSON),
)  # fmt: skip


def queue_rows(user: User) -> QuerySet[Ticket]:
    """Tickets as the queue table shows them, in a fixed number of queries."""
    return (
        ticket_scope(user)
        .select_related("community", "requester", "assignee")
        .only(*QUEUE_ROW_FIELDS)
    )


def saved_filters_visible(user: User) -> QuerySet[SavedFilter]:
    """The agent's own saved filters and those their colleagues share."""
    return SavedFilter.objects.filter(Q(owner_id=user.pk) | Q(shared=True)).select_related("owner")


def saved_filters_owned(user: User) -> QuerySet[SavedFilter]:
    return SavedFilter.objects.filter(owner_id=user.pk)


def macros_available(user: User) -> QuerySet[Macro]:
    """Active canned responses the agent may use: shared ones and their own."""
    return Macro.objects.filter(Q(owner__isnull=True) | Q(owner_id=user.pk), active=True)


def ticket_events(user: User, ticket: Ticket) -> QuerySet[TicketEvent]:
    return ticket_event_scope(user).filter(ticket=ticket).select_related("actor")


def newest_event_id(user: User, ticket: Ticket) -> int:
    """The id of the ticket's newest audit event, 0 when it has none: what a page "has seen"."""
    events = ticket_event_scope(user).filter(ticket=ticket).order_by("-pk")
    return events.values_list("pk", flat=True).first() or 0


def changed_since(user: User, ticket: Ticket, seen_event_id: int) -> bool:
    """Whether someone else changed the ticket after event `seen_event_id`."""
    return (
        ticket_event_scope(user)
        .filter(ticket=ticket, pk__gt=seen_event_id)
        .exclude(actor_id=user.pk)
        .exists()
    )


def linked_tickets(user: User, ticket: Ticket) -> list[Ticket]:
    """The tickets linked to `ticket` (links are stored once, lower id first)."""
    pairs = TicketLink.objects.filter(Q(from_ticket=ticket) | Q(to_ticket=ticket)).values_list(
        "from_ticket_id", "to_ticket_id"
    )
    others = {low if high == ticket.pk else high for low, high in pairs}
    return list(ticket_list(user).filter(pk__in=others).order_by("pk"))


def satisfaction(ticket: Ticket) -> tuple[SatisfactionRating | None, bool]:
    """The requester's latest answered satisfaction rating, and whether a survey waits for an
    answer, in one query (a ticket is surveyed once per resolution); the caller has checked
    access."""
    ratings = list(ticket.ratings.select_related("requester").order_by("-answered_at", "-pk"))
    answered = [rating for rating in ratings if rating.answered_at is not None]
    pending = len(answered) < len(ratings)
    return (answered[0] if answered else None), pending


def ticket_time_entries(user: User, ticket: Ticket) -> QuerySet[TimeEntry]:
    return time_entry_scope(user).filter(ticket=ticket).order_by("-worked_at", "-pk")


def ticket_attachments(user: User, ticket: Ticket) -> QuerySet[Attachment]:
    return attachment_scope(user).filter(ticket=ticket).select_related("uploaded_by")


def ticket_records(ticket: Ticket) -> list[HistoricalChanges]:
    """The ticket's simple-history records, newest first; the caller has checked access."""
    return list(ticket.history.select_related("history_user").order_by("-history_date", "-pk"))


def names_of(user_ids: Iterable[int | None]) -> dict[int, str]:
    """{user id: display name} for the people an audit trail mentions."""
    wanted = {i for i in user_ids if isinstance(i, int)}
    if not wanted:
        return {}
    return {user.pk: user.display_name for user in User.objects.filter(pk__in=wanted)}
