"""The budget-aware priority of requests (seed 004, "Prioritizing non-incident support
requests"), stored on the ticket so the desk's default order is one indexed query.

Seed 004's order, as far as the desk knows the inputs:

1. incidents before everything ("we will prioritize resolving it over everything else");
2. requests that come with dedicated funding (`Ticket.funded`);
3. requests that impact many communities: the ticket, the tickets linked to it and the
   incidents it is attached to concern two or more communities (links join tickets of one
   community, so in practice an incident affecting several communities);
4. requests from communities with support budget left, the more left the earlier;
5. requests from communities with no support budget set;
6. requests from communities that have used up their budget.

(The seed's "aligned with our goals", "aligned with upstream" and "high impact on a single
community" are judgements the desk does not record; agents make them by hand.)

The score adds the parts below; higher comes first, ties newest first. `priority_reasons`
keeps the parts in words for the ticket page.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from communities.models import Community
from core.errors import Forbidden
from incidents.models import IncidentTicket
from reports import metrics
from tickets import events
from tickets.models import UNRESOLVED, Ticket, TicketKind, TicketLink
from tickets.services.common import is_agent, locked

if TYPE_CHECKING:
    from core.models import User

INCIDENT = 1000
FUNDED = 400
MANY_COMMUNITIES = 200
BUDGET_LEFT = 100  # plus one point per 10 % of the budget left (0-10)
NO_BUDGET = 50
BUDGET_USED_UP = 0


@dataclass(frozen=True)
class Priority:
    score: int
    reasons: list[str]


@dataclass(frozen=True)
class BudgetState:
    budget_minutes: int
    used_minutes: int

    @property
    def left_percent(self) -> float:
        if self.budget_minutes <= 0:
            return 0.0
        return max(0.0, 100 * (self.budget_minutes - self.used_minutes) / self.budget_minutes)


def priority_of(
    *, kind: str, funded: bool, communities_affected: int, budget: BudgetState | None
) -> Priority:
    """The score and its reasons from the inputs alone (no database)."""
    if kind == TicketKind.INCIDENT:
        return Priority(INCIDENT, ["Incident: before every other request"])
    score, reasons = 0, []
    if funded:
        score += FUNDED
        reasons.append(f"Dedicated funding (+{FUNDED})")
    if communities_affected >= 2:
        score += MANY_COMMUNITIES
        reasons.append(
            f"Affects {communities_affected} communities through linked tickets and incidents "
            f"(+{MANY_COMMUNITIES})"
        )
    if budget is None:
        score += NO_BUDGET
        reasons.append(f"No support budget set for the community (+{NO_BUDGET})")
    elif budget.used_minutes >= budget.budget_minutes:
        reasons.append("The community's support budget is used up (+0)")
    else:
        left = budget.left_percent
        points = BUDGET_LEFT + int(left // 10)
        score += points
        reasons.append(f"The community has {left:.0f} % of its support budget left (+{points})")
    return Priority(score, reasons)


def budget_states(community_ids: Iterable[int]) -> dict[int, BudgetState]:
    """The budget state of each of these communities that has a budget, in two queries."""
    ids = tuple(sorted(set(community_ids)))
    if not ids:
        return {}
    return {
        row.community_id: BudgetState(row.budget_minutes, row.used_minutes)
        for row in metrics.budget_rows(ids)
    }


def communities_affected_of(tickets: Sequence[Ticket]) -> dict[int, int]:
    """How many distinct communities each ticket touches: its own, those of the tickets
    linked to it, and those affected by the incidents it is attached to. In two queries
    however many tickets."""
    found: dict[int, set[int]] = {ticket.pk: {ticket.community_id} for ticket in tickets}
    linked = TicketLink.objects.filter(Q(from_ticket__in=found) | Q(to_ticket__in=found))
    for ends in linked.values_list(
        "from_ticket_id", "to_ticket_id", "from_ticket__community_id", "to_ticket__community_id"
    ):
        for ticket_id in ends[:2]:
            if ticket_id in found:
                found[ticket_id].update(ends[2:])
    attached = IncidentTicket.objects.filter(
        ticket_id__in=found, incident__affected__isnull=False
    ).values_list("ticket_id", "incident__affected__community_id")
    for ticket_id, community_id in attached:
        found[ticket_id].add(community_id)
    return {ticket_id: len(communities) for ticket_id, communities in found.items()}


def tickets_priority_refresh(*, ticket_ids: Iterable[int]) -> dict[int, Priority]:
    """Compute and store the priority of these tickets, in a fixed number of queries: the
    tickets locked in id order, each community's budget read once, the links and incidents
    of all of them, one UPDATE of those whose priority moved. Tickets that are gone are
    left out."""
    # No savepoint inside a caller's transaction (a worker's delivery): nothing here is
    # caught and carried on from, so a failure rolls back the caller's work anyway.
    with transaction.atomic(savepoint=False):
        tickets = list(
            Ticket.objects.select_for_update(no_key=True)
            .filter(pk__in=sorted(set(ticket_ids)))
            .only("community_id", "kind", "funded", "priority_score", "priority_reasons")
            .order_by("pk")
        )
        budgets = budget_states(ticket.community_id for ticket in tickets)
        affected = communities_affected_of(tickets)
        priorities: dict[int, Priority] = {}
        moved = []
        for ticket in tickets:
            priority = priorities[ticket.pk] = priority_of(
                kind=ticket.kind,
                funded=ticket.funded,
                communities_affected=affected[ticket.pk],
                budget=budgets.get(ticket.community_id),
            )
            if (ticket.priority_score, ticket.priority_reasons) != (
                priority.score,
                priority.reasons,
            ):
                ticket.priority_score, ticket.priority_reasons = priority.score, priority.reasons
                moved.append(ticket)
        if moved:
            Ticket.objects.bulk_update(moved, ["priority_score", "priority_reasons"])
    return priorities


def ticket_priority_refresh(*, ticket_id: int) -> Priority:
    """Compute and store one ticket's priority: tickets_priority_refresh of one ticket."""
    return tickets_priority_refresh(ticket_ids=[ticket_id])[ticket_id]


def community_priorities_refresh(*, community_id: int) -> int:
    """Refresh every unresolved ticket of a community (its budget changed: time logged, a new
    period). The number of tickets refreshed. In one batch, the tickets locked in id order
    like every other batch of refreshes (locked one by one in another order, two refreshes
    could deadlock)."""
    ids = list(
        Ticket.objects.filter(UNRESOLVED, community_id=community_id).values_list("pk", flat=True)
    )
    tickets_priority_refresh(ticket_ids=ids)
    return len(ids)


def ticket_funding_set(*, ticket: Ticket, funded: bool, actor: User) -> Priority:
    """Mark a request as coming with dedicated funding (or not), and re-rank it at once.

    Audited like any change of a ticket's fields: an `updated` event on the ticket's trail
    (who, when, off → on) and a history record, in the same transaction; setting what is
    already set writes nothing."""
    if not is_agent(actor):
        raise Forbidden("Only agents mark a request as funded.")
    with transaction.atomic():
        row = locked(ticket)
        if row.funded != funded:
            row.funded = funded
            row.updated_at = timezone.now()
            row._history_user = actor  # type: ignore[attr-defined]
            row.save(update_fields=["funded", "updated_at"])
            events.ticket_updated(ticket=row, actor=actor, changes={"funded": [not funded, funded]})
        return ticket_priority_refresh(ticket_id=row.pk)


def all_priorities_refresh() -> int:
    total = 0
    for community_id in Community.objects.values_list("pk", flat=True):
        total += community_priorities_refresh(community_id=community_id)
    return total
