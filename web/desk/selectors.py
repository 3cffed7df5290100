"""The desk's reads. Tickets and what hangs off them are read through the tenancy scopes of
tickets.selectors and communities.selectors (agents see every community, but the desk still
starts from the scope, like every other view)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.db.models import Q, QuerySet

from communities.models import TimeEntry
from communities.selectors import time_entry_scope
from core.models import User
from tickets.models import Attachment, Macro, SatisfactionRating, Ticket, TicketEvent, TicketLink
from tickets.selectors import attachment_scope, ticket_event_scope, ticket_list
from web.models import SavedFilter

if TYPE_CHECKING:
    from simple_history.models import HistoricalChanges


def queue_rows(user: User) -> QuerySet[Ticket]:
    """Tickets as the queue table shows them, in a fixed number of queries."""
    return ticket_list(user)


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
    newest = ticket_event_scope(user).filter(ticket=ticket).order_by("-pk").first()
    return newest.pk if newest else 0


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


def latest_rating(ticket: Ticket) -> SatisfactionRating | None:
    """The requester's latest answered satisfaction rating; the caller has checked access."""
    return ticket.ratings.filter(answered_at__isnull=False).order_by("-answered_at").first()


def survey_pending(ticket: Ticket) -> bool:
    return ticket.ratings.filter(answered_at__isnull=True).exists()


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
