"""The clocks of each ticket: armed, paused, resumed, met, cancelled and recomputed.

Ticket events reach the `slas` queue as outbox deliveries, possibly twice and in any order.
Rather than apply the one event it was handed, `ticket_clocks_sync` locks the ticket's
TicketSLA row and replays, in order, every entry of the ticket's audit trail
(tickets.TicketEvent) it has not applied yet, each at the time it was written (which is when
the change happened, in the same transaction). A delivery that arrives late or twice finds
nothing left to do. The ticket services write a ticket's audit entries under the ticket's
row lock, so they commit in id order and the cursor (`last_event_id`) never skips one.

The decisions where the issue leaves room are written down in docs/slas.md.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from slas.models import ACTIVE_STATES, SLAPolicy, SLATarget, TicketSLA
from slas.selectors import SLASetup
from slas.services.replay import ClockReplay, replayed_tickets, same_change
from tickets.models import TicketEvent

if TYPE_CHECKING:
    from core.models import User


def ticket_clocks_sync(*, ticket_id: int, setup: SLASetup | None = None) -> int:
    """Bring the ticket's clocks up to date with its audit trail; return how many audit
    entries were applied (0: nothing new, e.g. a delivery that ran already). `setup`: the
    policies and calendars, when the caller syncs many tickets (read when needed if not)."""
    # No savepoint inside a caller's transaction (a worker's delivery): nothing here is
    # caught and carried on from, so a failure rolls back the caller's work anyway.
    with transaction.atomic(savepoint=False):
        ticket = replayed_tickets().filter(pk=ticket_id).first()
        if ticket is None:
            return 0
        TicketSLA.objects.bulk_create([TicketSLA(ticket_id=ticket_id)], ignore_conflicts=True)
        sla = TicketSLA.objects.select_for_update().get(pk=ticket_id)
        entries = list(
            TicketEvent.objects.filter(ticket_id=ticket_id, pk__gt=sla.last_event_id)
            .select_related("actor")
            .order_by("pk")
        )
        if not entries:
            return 0
        replay = ClockReplay(sla=sla, entries=entries, ticket=ticket, setup=setup)
        if sla.last_event_id:
            replay.check_plan(at=entries[0].created_at)
        for entry, following in zip(entries, [*entries[1:], None], strict=True):
            replay.apply(entry)
            # Pauses and next-update clocks follow from where one change left the ticket:
            # a customer's reply and the status change it causes are one change.
            if following is None or not same_change(entry, following):
                replay.reconcile(at=entry.created_at, actor=entry.actor)
        sla.last_event_id = entries[-1].pk
        sla.updated_at = timezone.now()
        sla.save()
    return len(entries)


def ticket_clocks_recompute(*, ticket_id: int, reason: str, actor: User | None = None) -> int:
    """Match the ticket's policy again and recompute its running clocks from their start
    (an agent's request from the admin, e.g. after a community changed plan). Returns how
    many clocks changed."""
    with transaction.atomic():
        sla = TicketSLA.objects.select_for_update().filter(pk=ticket_id).first()
        if sla is None:
            return 0
        replay = ClockReplay(sla=sla, entries=[])
        now = timezone.now()
        changed = replay.recompute(at=now, actor=actor, reason=reason)
        replay.reconcile(at=now, actor=actor)
        sla.updated_at = timezone.now()
        sla.save()
    return changed


def clocks_cancel_for_policy(*, policy: SLAPolicy, at: datetime, actor: User | None) -> int:
    """A policy was switched off: cancel every clock it runs, and let its tickets go without
    a policy. Returns how many clocks were cancelled."""
    with transaction.atomic():
        ticket_ids = sorted(
            set(
                SLATarget.objects.filter(policy=policy, state__in=ACTIVE_STATES).values_list(
                    "ticket_id", flat=True
                )
            )
            | set(TicketSLA.objects.filter(policy=policy).values_list("ticket_id", flat=True))
        )
        # The TicketSLA locks keep a concurrent sync from writing over the cancellation.
        slas = list(TicketSLA.objects.select_for_update().filter(pk__in=ticket_ids).order_by("pk"))
        cancelled = 0
        for sla in slas:
            replay = ClockReplay(sla=sla, entries=[])
            for target in list(replay.active.values()):
                if target.policy_id == policy.pk:
                    replay.cancel(
                        target, at=at, actor=actor, reason=f"policy “{policy}” switched off"
                    )
                    cancelled += 1
            if sla.policy_id == policy.pk:
                sla.policy = None
                sla.match_reason = f"“{policy}” was switched off on {at:%Y-%m-%d %H:%M} UTC."
                sla.updated_at = timezone.now()
                sla.save(update_fields=["policy", "match_reason", "updated_at"])
    return cancelled
