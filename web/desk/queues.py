"""The desk's queues, defined in one place.

Each queue is a condition on tickets, relative to the agent looking and to the time now.
The rail's counts come from one aggregate query over the unresolved tickets of the agent's
scope, where every queue but two finds its own, plus one query for each of those two
(`queue_counts`); the queue list applies the same condition (`queue_tickets`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum
from django.utils import timezone

from slas.models import ClockState, SLATarget
from tickets.models import UNRESOLVED, Ticket, Tier
from tickets.selectors import ticket_scope
from tickets.states import ACTIVE, TicketStatus

if TYPE_CHECKING:
    from core.models import User

RECENTLY_RESOLVED = timedelta(days=7)


@dataclass(frozen=True)
class Queue:
    key: str
    label: str
    group: str
    condition: Callable[[User, datetime], Q]
    sort: str | None = None  # the list's order when none is chosen (web.desk.pagination)
    # Counted in a query of its own: its condition reads another table, or takes in resolved
    # or closed tickets, which the aggregate of the other queues never reads.
    apart: bool = False


def _active(**lookups: object) -> Callable[[User, datetime], Q]:
    return lambda user, now: Q(status__in=ACTIVE, **lookups)


def _status(status: TicketStatus) -> Callable[[User, datetime], Q]:
    return lambda user, now: Q(status=status)


def _breaching_soon(user: User, now: datetime) -> Q:
    """A running SLA clock due within SLA_BREACHING_SOON_MINUTES, or already overdue and not
    yet recorded as breached by the sweeper (slas.selectors.tickets_breaching_soon)."""
    horizon = now + timedelta(minutes=settings.SLA_BREACHING_SOON_MINUTES)
    return Q(
        Exists(
            SLATarget.objects.filter(
                ticket=OuterRef("pk"), state=ClockState.RUNNING, due_at__lte=horizon
            )
        )
    )


QUEUES: tuple[Queue, ...] = (
    # Work still to do ("active": new, open, assigned, in progress, waiting, pending).
    Queue("mine", "Mine", "Work", lambda user, now: Q(status__in=ACTIVE, assignee_id=user.pk)),
    Queue("unassigned", "Unassigned", "Work", _active(assignee__isnull=True)),
    Queue("breaching-soon", "Breaching soon", "Work", _breaching_soon, sort="sla", apart=True),
    *(Queue(f"tier-{tier.value}", str(tier.label), "Tiers", _active(tier=tier.value))
      for tier in Tier),
    Queue("awaiting-approval", "Awaiting approval", "Status", _status(TicketStatus.AWAITING_APPROVAL)),
    Queue("waiting", "Waiting on customer", "Status", _status(TicketStatus.WAITING_ON_CUSTOMER)),
    Queue("pending", "Pending (planned work)", "Status", _status(TicketStatus.PENDING)),
    # Resolved in the last 7 days, whether or not the resolution has been confirmed (closed)
    # since; a reopened ticket has lost its resolved_at and is back in the work queues.
    Queue("recently-resolved", "Recently resolved", "Status",
          lambda user, now: Q(resolved_at__gte=now - RECENTLY_RESOLVED), apart=True),
)  # fmt: skip

QUEUES_BY_KEY: dict[str, Queue] = {queue.key: queue for queue in QUEUES}


@dataclass(frozen=True)
class QueueCount:
    queue: Queue
    count: int


def queue_counts(user: User) -> list[QueueCount]:
    """Every queue with the number of tickets in it: one aggregate over the unresolved tickets
    (most of a desk's tickets are resolved or closed, and in no queue), and one query for each
    queue counted apart.

    The aggregate reads only the partial index tickets.Ticket `ticket_unresolved_idx` (an
    index-only scan): its WHERE is the index's own condition, and every column the queues'
    conditions read is in the index. It counts the tickets by (status, tier, assignee) first,
    a few hundred groups, then each queue sums the groups its condition takes, rather than
    testing every condition on every ticket (a 3 ms query instead of 8 at 15,000 of them).
    Django groups by any other column a condition reads, so the sums stay exact; a queue that
    may hold resolved or closed tickets is counted apart."""
    now = timezone.now()
    scope = ticket_scope(user)
    together = [q for q in QUEUES if not q.apart]
    groups = (
        scope.filter(UNRESOLVED).values("status", "tier", "assignee").annotate(tickets=Count("id"))
    )
    counts = groups.aggregate(
        **{q.key: Sum("tickets", filter=q.condition(user, now), default=0) for q in together}
    )
    for queue in QUEUES:
        if queue.apart:
            counts[queue.key] = scope.filter(queue.condition(user, now)).count()
    return [QueueCount(queue=q, count=counts[q.key]) for q in QUEUES]


def queue_tickets(tickets: QuerySet[Ticket], *, user: User, key: str) -> QuerySet[Ticket]:
    """`tickets` narrowed to the queue `key`; an unknown key leaves them all."""
    queue = QUEUES_BY_KEY.get(key)
    return tickets.filter(queue.condition(user, timezone.now())) if queue else tickets
