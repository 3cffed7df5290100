"""The sweeper: warn before a breach, and record each breach exactly once.

Celery beat runs `sla_sweep` every SLA_SWEEP_INTERVAL_SECONDS. Each batch is one
transaction and one statement: it claims due clocks with `SELECT … FOR UPDATE SKIP LOCKED`
(through the partial indexes on running clocks, so it reads only the due ones), changes
them with an UPDATE that still requires the state it claimed them in, writes their history,
and writes the `sla.warning` / `sla.breached` events and their deliveries to the outbox,
which hands them to the workers after commit.

A clock whose ticket has audit entries the clocks have not replayed yet (the `slas`
reaction is behind) is left for a later sweep: the entry may be the reply that met it.

Why nothing happens twice: two sweeps at once claim disjoint rows (SKIP LOCKED); a sweep
that finds a row already changed leaves it alone (the conditional UPDATE); and a sweep
killed half-way commits nothing of its batch, whose clocks the next sweep claims again.
The history's unique constraint (`clock_warns_and_breaches_once`) is the last guard.

Why it is quick (docs/slas.md, "The sweeper"): each batch reads only its own clocks, in due
order through the partial index, and changes exactly the rows it locked (by `ctid`, which
cannot change while the lock is held); the planner is kept from reading every due clock in
each batch (`PLAN_SETTINGS`), and each batch starts where the previous one stopped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from core import outbox


@dataclass(frozen=True)
class SweepResult:
    warned: int
    breached: int
    batches: int


# Plain statements, one per kind: the table names are the models' (a test checks them), and
# the entry kinds are those slas.services.clocks replays. Each claims, changes and records
# its clocks and writes their outbox rows (what core.outbox.publish writes, for a whole
# batch: one Event per clock and one EventDelivery per reaction, `publish` false when
# nothing reacts); it returns how many clocks it changed, the deliveries to hand over, and
# where in `order` the batch stopped.
def _claim(due: str, order: str) -> str:
    """Running clocks that are due by `due`, oldest first from `after` on, whose ticket's
    audit trail the clocks have replayed to the end."""
    return f"""
        SELECT t.ctid, {order} AS position FROM slas_slatarget AS t
        LEFT JOIN slas_ticketsla AS seen ON seen.ticket_id = t.ticket_id
        WHERE t.state = 'running' AND {due} AND {order} >= %(after)s
          AND NOT EXISTS (
              SELECT 1 FROM tickets_ticketevent AS entry
              WHERE entry.ticket_id = t.ticket_id
                AND entry.id > COALESCE(seen.last_event_id, 0)
                AND entry.kind IN ('opened', 'status_changed', 'updated', 'message_added')
          )
        ORDER BY {order}
        LIMIT %(batch)s
    """  # noqa: S608 (module constants only)


def _statement(*, due: str, order: str, change: str, still: str, kind: str) -> str:
    """Claim (SKIP LOCKED), change the clocks still in the claimed state, record `kind` in
    their history, and write their events and deliveries."""
    return f"""
    WITH due AS ({_claim(due, order)} FOR UPDATE OF t SKIP LOCKED
    ), hit AS (
        UPDATE slas_slatarget AS t
        SET {change}, updated_at = %(now)s
        FROM due
        WHERE t.ctid = due.ctid AND {still}
        RETURNING t.id, t.ticket_id, t.community_id, t.metric, t.due_at, t.severity, t.policy_id
    ), logged AS (
        INSERT INTO slas_clockevent (target_id, ticket_id, kind, at, data, created_at)
        SELECT id, ticket_id, '{kind}', %(now)s, jsonb_build_object('due_at', due_at), %(now)s
        FROM hit
    ), announced AS (
        INSERT INTO core_event (name, payload, community_id, occurred_at)
        SELECT %(event)s,
               jsonb_build_object(
                   'ticket_id', hit.ticket_id, 'target_id', hit.id, 'metric', hit.metric,
                   'due_at', to_jsonb(hit.due_at), 'severity', hit.severity,
                   'policy_id', hit.policy_id),
               hit.community_id, %(now)s
        FROM hit
        WHERE %(publish)s
        ORDER BY hit.id
        RETURNING id
    ), delivered AS (
        INSERT INTO core_eventdelivery (event_id, handler, queue, state, attempts,
                                        next_attempt_at, last_error)
        SELECT announced.id, reaction.handler, reaction.queue, 'pending', 0, %(now)s, ''
        FROM announced
        CROSS JOIN unnest(%(handlers)s::text[], %(queues)s::text[]) AS reaction(handler, queue)
        RETURNING id, queue
    )
    SELECT (SELECT count(*) FROM hit),
           COALESCE((SELECT array_agg(id ORDER BY id) FROM delivered), '{{}}'),
           COALESCE((SELECT array_agg(queue ORDER BY id) FROM delivered), '{{}}'),
           (SELECT max(position) FROM due)
    """  # noqa: S608 (module constants only)


BREACH_DUE = "t.due_at <= %(now)s"
BREACH_SQL = _statement(
    due=BREACH_DUE,
    order="t.due_at",
    change="state = 'breached', breached_at = %(now)s",
    still="t.state = 'running' AND t.due_at <= %(now)s",
    kind="breached",
)
WARN_SQL = _statement(
    due="t.warned_at IS NULL AND t.warn_at IS NOT NULL AND t.warn_at <= %(now)s"
    " AND t.due_at > %(now)s",
    order="t.warn_at",
    change="warned_at = %(now)s",
    still="t.state = 'running' AND t.warned_at IS NULL AND t.due_at > %(now)s",
    kind="warned",
)
CLAIM_PLAN_SQL = "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)" + _claim(BREACH_DUE, "t.due_at")

# For the batch's transaction only: the claim has to come out of the partial index in due
# order, so that the batch's LIMIT stops the scan. The planner's estimate of the clocks due
# by now is always stale (they came due after the statistics were gathered), so it expects
# a few and gladly reads every due clock (a bitmap scan, or hash joins with the tickets'
# audit trails) and sorts them: each batch of a burst then reads all the clocks still due,
# not just its own (0.2 s and more of a 10,000-breach sweep; docs/slas.md). With no sort to
# fall back on, the only plan left walks the index and stops at the end of the batch.
PLAN_SETTINGS = "SET LOCAL enable_sort = off"
# Where a sweep's first batch starts: before any due or warning time.
FIRST = datetime(1970, 1, 1, tzinfo=UTC)


def _sweep_batch(
    sql: str, event: str, *, now: datetime, batch: int, after: datetime
) -> tuple[int, datetime]:
    """One batch in one transaction, from `after` on; its deliveries go to the broker after
    commit. Returns how many clocks it changed and where the next batch starts."""
    reactions = outbox.reactions_to(event)
    params: dict[str, Any] = {
        "now": now,
        "batch": batch,
        "after": after,
        "event": event,
        "publish": bool(reactions),
        "handlers": [r.handler for r in reactions],
        "queues": [r.queue for r in reactions],
    }
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(PLAN_SETTINGS)
        cursor.execute(sql, params)
        row = cursor.fetchone()
        assert row is not None
        changed, delivery_ids, queues, reached = row
        pending = list(zip(delivery_ids, queues, strict=True))
        if pending:
            transaction.on_commit(lambda: _hand_over(pending), robust=True)
    return int(changed), reached or after


def _hand_over(pending: list[tuple[int, str]]) -> None:
    """Give the broker the deliveries of a committed batch. Each Celery message costs about
    half a millisecond to publish and carries up to OUTBOX_DELIVERIES_PER_MESSAGE
    deliveries of one queue, so a burst (thousands of breaches after an outage) is handed
    to a worker in a few messages rather than keeping the sweep busy; the outbox relay sends
    anything neither got to."""
    limit = settings.SLA_SWEEP_DIRECT_ENQUEUE_MAX
    if len(pending) <= limit:
        outbox.enqueue(pending)
        return
    from slas.tasks import enqueue_deliveries

    for start in range(0, len(pending), limit):
        chunk = [[delivery_id, queue] for delivery_id, queue in pending[start : start + limit]]
        # Celery would otherwise render the ids into the message's `kwargsrepr` header
        # (for logs and monitoring), which costs more than publishing the message. (An
        # option of apply_async the type stubs do not list.)
        enqueue_deliveries.apply_async(  # type: ignore[call-arg]
            kwargs={"deliveries": chunk}, kwargsrepr=f"{{'deliveries': <{len(chunk)} ids>}}"
        )


def sla_sweep(*, batch_size: int | None = None, time_budget: float | None = None) -> SweepResult:
    """Record every breach and warning due now, batch by batch, breaches first (a clock
    past its due time is breached, not warned). Stops early after `time_budget` seconds;
    the next sweep carries on."""
    batch = batch_size or settings.SLA_SWEEP_BATCH_SIZE
    budget = time_budget if time_budget is not None else settings.SLA_SWEEP_TIME_BUDGET_SECONDS
    started = time.monotonic()
    now = timezone.now()
    counts = {"sla.breached": 0, "sla.warning": 0}
    batches = 0
    for sql, name in ((BREACH_SQL, "sla.breached"), (WARN_SQL, "sla.warning")):
        # Each batch starts where the previous one stopped: the clocks it changed keep their
        # entries in the partial index until vacuum, and walking over them again would read
        # each of their rows once more. (A clock skipped on the way, locked by another sweep
        # or waiting for its ticket's audit trail, is the next sweep's.)
        after = FIRST
        while time.monotonic() - started < budget:
            done, after = _sweep_batch(sql, name, now=now, batch=batch, after=after)
            batches += 1
            counts[name] += done
            if done < batch:
                break
    return SweepResult(
        warned=counts["sla.warning"], breached=counts["sla.breached"], batches=batches
    )


def explain_claim(*, now: datetime | None = None, batch: int | None = None) -> str:
    """EXPLAIN ANALYZE of the breach claim alone (read-only), planned as the sweep plans it,
    for the benchmark: it shows that the sweep reads the partial index and only the rows of
    one batch."""
    params = {
        "now": now or timezone.now(),
        "batch": batch or settings.SLA_SWEEP_BATCH_SIZE,
        "after": FIRST,
    }
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(PLAN_SETTINGS)
        cursor.execute(CLAIM_PLAN_SQL, params)
        return "\n".join(row[0] for row in cursor.fetchall())
