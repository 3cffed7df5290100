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

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from communities.models import Community
from incidents.models import IncidentCommunity
from reports import metrics
from tickets.models import UNRESOLVED, Ticket, TicketKind, TicketLink

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


def communities_affected(ticket: Ticket) -> int:
    """Distinct communities of the ticket, the tickets linked to it, and the communities
    affected by the incidents it is attached to."""
    linked = TicketLink.objects.filter(Q(from_ticket=ticket) | Q(to_ticket=ticket))
    ids = {ticket.community_id}
    for a, b in linked.values_list("from_ticket__community_id", "to_ticket__community_id"):
        ids.update((a, b))
    ids.update(
        IncidentCommunity.objects.filter(incident__ticket_links__ticket=ticket).values_list(
            "community_id", flat=True
        )
    )
    return len(ids)


def budget_state(community_id: int, now: datetime | None = None) -> BudgetState | None:
    rows = metrics.budget_rows((community_id,), now)
    if not rows:
        return None
    return BudgetState(rows[0].budget_minutes, rows[0].used_minutes)


def ticket_priority_refresh(
    *, ticket_id: int, budget: BudgetState | None | bool = False
) -> Priority:
    """Compute and store one ticket's priority (a single UPDATE of two columns).
    `budget` may be passed in when refreshing many tickets of one community."""
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update().get(pk=ticket_id)
        state = budget_state(ticket.community_id) if budget is False else budget
        priority = priority_of(
            kind=ticket.kind,
            funded=ticket.funded,
            communities_affected=communities_affected(ticket),
            budget=state if isinstance(state, BudgetState) else None,
        )
        if ticket.priority_score != priority.score or ticket.priority_reasons != priority.reasons:
            Ticket.objects.filter(pk=ticket_id).update(
                priority_score=priority.score, priority_reasons=priority.reasons
            )
        return priority


def community_priorities_refresh(*, community_id: int) -> int:
    """Refresh every unresolved ticket of a community (its budget changed: time logged, a new
    period). The number of tickets refreshed."""
    state = budget_state(community_id)
    ids = list(
        Ticket.objects.filter(UNRESOLVED, community_id=community_id).values_list("pk", flat=True)
    )
    for ticket_id in ids:
        ticket_priority_refresh(ticket_id=ticket_id, budget=state)
    return len(ids)


def ticket_funding_set(*, ticket: Ticket, funded: bool) -> Priority:
    """Mark a request as coming with dedicated funding (or not), and re-rank it."""
    Ticket.objects.filter(pk=ticket.pk).update(funded=funded, updated_at=timezone.now())
    return ticket_priority_refresh(ticket_id=ticket.pk)


def all_priorities_refresh() -> int:
    total = 0
    for community_id in Community.objects.values_list("pk", flat=True):
        total += community_priorities_refresh(community_id=community_id)
    return total
