"""The sweeper: finds every page with a step or a reminder due and hands it to the workers.

Celery beat runs `paging_sweep` every PAGING_SWEEP_INTERVAL_SECONDS. Each batch is one
transaction and one statement: it claims due pages with `SELECT … FOR UPDATE SKIP LOCKED`
through the partial indexes of due escalations and reminders (so it reads only those),
marks them handed over for PAGING_DISPATCH_LEASE_SECONDS (`dispatched_until`), and after
commit sends their ids to the `paging` queue, many per message. The sweeper runs no step
itself: the engine's conditional UPDATE decides who runs a step, so a page handed over twice
(two sweeps, a sweep and the task scheduled at the end of its wait) still runs each step
once. A message lost, or a worker killed with the page in hand, only delays the step: the
lease runs out and the next sweep hands the page over again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from incidents.paging.services import dispatch


@dataclass(frozen=True)
class SweepResult:
    dispatched: int
    batches: int
    messages: int


def _claim(state: str, due: str) -> str:
    return f"""
    WITH due AS (
        SELECT id, {due} AS due_at FROM paging_page
        WHERE state = '{state}' AND {due} <= %(now)s AND {due} >= %(after_at)s
          AND ({due}, id) > (%(after_at)s, %(after_id)s)
          AND (dispatched_until IS NULL OR dispatched_until <= %(now)s)
        ORDER BY {due}, id
        LIMIT %(batch)s
        FOR UPDATE SKIP LOCKED
    ), claimed AS (
        UPDATE paging_page AS p SET dispatched_until = %(lease)s
        FROM due WHERE p.id = due.id
        RETURNING p.id, due.due_at
    )
    SELECT id, due_at FROM claimed ORDER BY due_at, id
    """  # noqa: S608 (module constants only)


ESCALATIONS_SQL = _claim("triggered", "next_escalation_at")
REMINDERS_SQL = _claim("acknowledged", "remind_at")
# Keep the claim on the partial index, in due order, so that LIMIT stops the scan (the
# planner's estimate of rows due "by now" is always stale; see slas.services.sweep).
PLAN_SETTINGS = "SET LOCAL enable_sort = off"
FIRST = datetime(1970, 1, 1, tzinfo=UTC)


def _batch(
    sql: str, *, now: datetime, batch: int, after: tuple[datetime, int]
) -> tuple[list[int], tuple[datetime, int]]:
    params: dict[str, Any] = {
        "now": now,
        "batch": batch,
        "after_at": after[0],
        "after_id": after[1],
        "lease": now + timedelta(seconds=settings.PAGING_DISPATCH_LEASE_SECONDS),
    }
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(PLAN_SETTINGS)
        cursor.execute(sql, params)
        rows = cursor.fetchall()
        ids = [row[0] for row in rows]
        if ids:
            transaction.on_commit(lambda: dispatch.advance_soon(ids), robust=True)
    return ids, ((rows[-1][1], rows[-1][0]) if rows else after)


def paging_sweep(*, batch_size: int | None = None, time_budget: float | None = None) -> SweepResult:
    """Hand over every page due now, batch by batch: escalations, then reminders."""
    batch = batch_size or settings.PAGING_SWEEP_BATCH_SIZE
    budget = time_budget if time_budget is not None else settings.PAGING_SWEEP_TIME_BUDGET_SECONDS
    started = time.monotonic()
    now = timezone.now()
    dispatched = batches = 0
    chunk = settings.PAGING_SWEEP_PAGES_PER_TASK
    messages = 0
    for sql in (ESCALATIONS_SQL, REMINDERS_SQL):
        after: tuple[datetime, int] = (FIRST, 0)
        while time.monotonic() - started < budget:
            ids, after = _batch(sql, now=now, batch=batch, after=after)
            batches += 1
            dispatched += len(ids)
            messages += -(-len(ids) // chunk)
            if len(ids) < batch:
                break
    return SweepResult(dispatched=dispatched, batches=batches, messages=messages)
