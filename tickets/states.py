"""The ticket lifecycle on one screen: statuses, and the transitions between them.

No queries and no I/O here. `tickets.services.lifecycle.ticket_transition` is the one function that
applies a transition; nothing else assigns `Ticket.status`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from django.db import models


class TicketStatus(models.TextChoices):
    NEW = "new", "New"
    AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
    OPEN = "open", "Open"
    ASSIGNED = "assigned", "Assigned"
    IN_PROGRESS = "in_progress", "In progress"
    WAITING_ON_CUSTOMER = "waiting_on_customer", "Waiting on customer"
    PENDING = "pending", "Pending (planned work)"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"


class Actor(enum.Enum):
    """Who may apply a transition, relative to the ticket."""

    STAFF = "staff"
    REPRESENTATIVE = "representative"  # of the ticket's community
    REQUESTER = "requester"


@dataclass(frozen=True)
class Transition:
    name: str
    label: str
    sources: frozenset[TicketStatus]
    target: TicketStatus
    actors: frozenset[Actor]
    # Applied by a service as a consequence (an assignment, a customer's reply), never
    # asked for by name through the API or a button.
    automatic: bool = False
    requires_reason: bool = False
    # True: the ticket must have an assignee; False: it must not; None: either.
    requires_assignee: bool | None = None


_S = TicketStatus
_STAFF = frozenset({Actor.STAFF})
_CUSTOMER_SIDE = frozenset({Actor.STAFF, Actor.REPRESENTATIVE, Actor.REQUESTER})
_WORKING = frozenset({_S.OPEN, _S.ASSIGNED, _S.IN_PROGRESS})
_ACTIVE = frozenset({_S.NEW, *_WORKING, _S.WAITING_ON_CUSTOMER, _S.PENDING})

TRANSITIONS: dict[str, Transition] = {
    t.name: t
    for t in [
        Transition("approve", "Approve", frozenset({_S.AWAITING_APPROVAL}), _S.OPEN,
                   frozenset({Actor.STAFF, Actor.REPRESENTATIVE})),
        Transition("decline", "Decline", frozenset({_S.AWAITING_APPROVAL}), _S.CLOSED,
                   frozenset({Actor.STAFF, Actor.REPRESENTATIVE}), requires_reason=True),
        Transition("accept", "Accept", frozenset({_S.NEW}), _S.OPEN, _STAFF),
        Transition("assign", "Assign", frozenset({_S.NEW, _S.OPEN}), _S.ASSIGNED, _STAFF,
                   automatic=True, requires_assignee=True),
        Transition("unassign", "Unassign", frozenset({_S.ASSIGNED}), _S.OPEN, _STAFF,
                   automatic=True, requires_assignee=False),
        Transition("start_work", "Start work", frozenset({_S.NEW, _S.OPEN, _S.ASSIGNED}),
                   _S.IN_PROGRESS, _STAFF),
        Transition("wait_on_customer", "Wait on customer", frozenset({_S.NEW, *_WORKING, _S.PENDING}),
                   _S.WAITING_ON_CUSTOMER, _STAFF),
        Transition("customer_replied", "Customer replied", frozenset({_S.WAITING_ON_CUSTOMER}),
                   _S.IN_PROGRESS, _CUSTOMER_SIDE, automatic=True),
        Transition("plan", "Plan as future work", frozenset({*_WORKING, _S.WAITING_ON_CUSTOMER}),
                   _S.PENDING, _STAFF),
        Transition("resume", "Resume", frozenset({_S.PENDING, _S.WAITING_ON_CUSTOMER}),
                   _S.IN_PROGRESS, _STAFF),
        Transition("resolve", "Resolve", _ACTIVE, _S.RESOLVED, _STAFF),
        Transition("confirm", "Confirm resolution", frozenset({_S.RESOLVED}), _S.CLOSED,
                   frozenset({Actor.REPRESENTATIVE, Actor.REQUESTER})),
        Transition("close", "Close", frozenset({*_ACTIVE, _S.RESOLVED}), _S.CLOSED, _STAFF),
        # A duplicate closes when it is merged into the ticket that carries on (ticket_merge).
        Transition("merge", "Merge", frozenset({_S.AWAITING_APPROVAL, *_ACTIVE, _S.RESOLVED}),
                   _S.CLOSED, _STAFF, automatic=True),
        # Only representatives speak for a community (seed 004), so a member who is not one
        # cannot reopen, which would also bypass the approval of a declined request.
        Transition("reopen", "Reopen", frozenset({_S.RESOLVED, _S.CLOSED}), _S.OPEN,
                   frozenset({Actor.STAFF, Actor.REPRESENTATIVE})),
    ]
}  # fmt: skip

# Statuses in which the desk owes the customer nothing until they answer or the plan comes due.
WAITING: frozenset[TicketStatus] = frozenset({_S.WAITING_ON_CUSTOMER, _S.PENDING})
# Statuses of a ticket that still needs work, in the order a queue shows them.
ACTIVE: frozenset[TicketStatus] = _ACTIVE
FINISHED: frozenset[TicketStatus] = frozenset({_S.RESOLVED, _S.CLOSED})
