"""Measure the SLA clocks at scale: the sweep over a million running clocks, the delay from
a due time to the recorded breach with beat and a worker running, and what arming the
clocks costs per ticket opened.

    python -m bench.sla_bench [--targets 1000000] [--due-share 0.01] [--arming 300]
                              [--delay-clocks 200] [--json FILE] [--doc docs/benchmarks.md]

Runs on a database of its own, `supportdesk_bench_slas`, on the same server as DATABASE_URL
(created and migrated when missing; the development and API-bench databases are never
touched), with Redis database 1 of the configured Redis for its Celery messages (emptied
before and after). `make bench`'s wrapper applies: run it inside
`python -m supportdesk.embedded exec --`.

1. Arming: `tickets.services.lifecycle.ticket_open` for `--arming` tickets (the plain
   insert: ticket, first message, audit entry, outbox rows), then
   `slas.services.clocks.ticket_clocks_sync` for each (what the `slas` worker does for a
   new ticket: match the policy, arm first response and resolution). Per-ticket latencies.
2. Bulk load: `--targets` running clocks on `--targets / 3` tickets (three clocks each, each
   ticket with its audit entry and its TicketSLA row, as the clocks leave them), a share
   `--due-share` of them due in the last minute and the rest over the next 30 days; then
   VACUUM (ANALYZE), as autovacuum leaves a table that grew over months.
3. One sweep (`slas.services.sweep.sla_sweep`, in this process, settings' batch size):
   wall time, how much of it went to handing deliveries to Redis after commit, and the
   plan of the claim. Then a sweep with nothing due.
4. Delay: a Celery worker (queue `slas`) and Celery beat (the settings' schedule) are
   started; `--delay-clocks` clocks come due over 20 s; the delay from each due time to its
   recorded breach (breached_at - due_at).

The figures go to bench/results/sla.json and into docs/benchmarks.md as the marked block
`slas` (bench/docs.py), which bench/run_all.py keeps when it rewrites the page.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.api_bench import _flush_redis, bench_redis_url, machine, percentile, wait_until_quiet
from bench.docs import DOC, busy_note, write_block
from bench.load_tickets import (
    RESULTS_DIR,
    ROOT,
    SETTINGS_MODULE,
    ensure_cast,
    representative_email,
    source_database_url,
    source_redis_url,
    with_database,
)

SLA_DATABASE = "supportdesk_bench_slas"
SUBJECT = "SLA bench"
JSON = RESULTS_DIR / "sla.json"

TARGETS = {
    "sweep": ("< 1 s", lambda v: v < 1.0),
    "delay": ("< 5 s", lambda v: v < 5.0),
}


# ---------------------------------------------------------------- the database


def ensure_database(url: str) -> bool:
    """Create SLA_DATABASE on the server of `url` when missing; True if created."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [SLA_DATABASE]).fetchone():
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(SLA_DATABASE)))
        return True


def setup(database_url: str, redis_url: str) -> None:
    """Point this process (and the workers it starts) at the SLA bench database and Redis 1."""
    os.environ.update(
        DATABASE_URL=database_url, REDIS_URL=redis_url, DJANGO_SETTINGS_MODULE=SETTINGS_MODULE,
        DEBUG="false",
    )  # fmt: skip
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    if settings.DATABASES["default"]["NAME"] != SLA_DATABASE:
        raise SystemExit(f"Refusing to run against {settings.DATABASES['default']['NAME']!r}.")
    call_command("migrate", interactive=False, verbosity=0)


def execute(statement: str, params: dict[str, Any] | None = None) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return int(cursor.rowcount)


def scalar(statement: str, params: dict[str, Any] | None = None) -> Any:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        row = cursor.fetchone()
        return row[0] if row else None


# ---------------------------------------------------------------- 1. arming


def timed(action: Callable[[], Any]) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


def measure_arming(count: int) -> dict[str, Any]:
    from communities.models import Community
    from core.models import User
    from slas.demo import seed as sla_demo
    from slas.services.clocks import ticket_clocks_sync
    from tickets.services.lifecycle import ticket_open

    ensure_cast()
    sla_demo()  # calendars and the plan x severity grid of policies
    community = Community.objects.order_by("pk").first()
    assert community is not None
    requester = User.objects.get(email=representative_email(1))
    opened: list[int] = []
    insert_ms: list[float] = []
    for n in range(count):
        holder: dict[str, Any] = {}

        def open_one(n: int = n, holder: dict[str, Any] = holder) -> None:
            holder["ticket"] = ticket_open(
                community=community, requester=requester, subject=f"Arming {n}",
                description="The hub is slow.", opened_by=requester,
                severity=("critical", "high", "medium", "low")[n % 4],
            )  # fmt: skip

        insert_ms.append(timed(open_one))
        opened.append(holder["ticket"].pk)
    arm_ms = [timed(functools.partial(ticket_clocks_sync, ticket_id=t)) for t in opened]
    return {
        "tickets": count,
        "open_p50_ms": round(percentile(insert_ms, 50), 2),
        "open_p95_ms": round(percentile(insert_ms, 95), 2),
        "arm_p50_ms": round(percentile(arm_ms, 50), 2),
        "arm_p95_ms": round(percentile(arm_ms, 95), 2),
    }


# ---------------------------------------------------------------- 2. the million clocks


def load(targets: int, due_share: float) -> dict[str, Any]:
    """Bench tickets (made once), and `targets` running clocks on them (made afresh)."""
    from django.db import transaction

    from communities.models import Community
    from core.models import User

    started = time.monotonic()
    tickets_needed = -(-targets // 3)
    community = Community.objects.order_by("pk").first()
    requester = User.objects.get(email=representative_email(1))
    assert community is not None
    with transaction.atomic():
        execute("SET LOCAL synchronous_commit TO off")
        execute("TRUNCATE slas_clockevent, core_eventdelivery, core_event")
        execute("DELETE FROM slas_slatarget")
        have = scalar(
            "SELECT count(*) FROM tickets_ticket WHERE subject LIKE %(s)s", {"s": f"{SUBJECT} %"}
        )
        if have < tickets_needed:
            execute(
                """
                INSERT INTO tickets_ticket (community_id, requester_id, subject, description,
                    kind, severity, tier, status, channel, tags, created_at, updated_at,
                    status_changed_at)
                SELECT %(community)s, %(requester)s, %(subject)s || ' ' || n, 'x', 'question',
                       'medium', 'community', 'in_progress', 'portal', '{}', now(), now(), now()
                FROM generate_series(%(first)s, %(last)s) AS n
                """,
                {"community": community.pk, "requester": requester.pk, "subject": SUBJECT,
                 "first": have + 1, "last": tickets_needed},
            )  # fmt: skip
            # Each ticket as the clocks leave it: its opening entry, replayed.
            execute(
                """
                INSERT INTO tickets_ticketevent (ticket_id, actor_id, kind, data, created_at)
                SELECT t.id, t.requester_id, 'opened', '{"status": "new"}', t.created_at
                FROM tickets_ticket t
                WHERE t.subject LIKE %(s)s
                  AND NOT EXISTS (SELECT 1 FROM slas_ticketsla s WHERE s.ticket_id = t.id)
                """,
                {"s": f"{SUBJECT} %"},
            )
            execute(
                """
                INSERT INTO slas_ticketsla (ticket_id, match_reason, last_event_id, status,
                    severity, kind, updated_at)
                SELECT e.ticket_id, '', e.id, 'in_progress', 'medium', 'question', now()
                FROM tickets_ticketevent e JOIN tickets_ticket t ON t.id = e.ticket_id
                WHERE t.subject LIKE %(s)s AND e.kind = 'opened'
                ON CONFLICT DO NOTHING
                """,
                {"s": f"{SUBJECT} %"},
            )
        every = round(1 / due_share) if due_share else 0
        inserted = execute(
            """
            INSERT INTO slas_slatarget (ticket_id, community_id, metric, state, target_minutes,
                business, notify_around_the_clock, pause_when_pending, started_at, due_at,
                warn_at, paused_seconds, pauses, created_at, updated_at, severity)
            SELECT t.id, t.community_id, m.metric, 'running', 240, true, false, true,
                   now() - interval '1 hour', d.due_at, d.due_at - interval '1 hour', 0, '[]',
                   now(), now(), 'medium'
            FROM (SELECT id, community_id, row_number() OVER (ORDER BY id) AS n FROM tickets_ticket
                  WHERE subject LIKE %(s)s ORDER BY id LIMIT %(tickets)s) AS t
            CROSS JOIN (VALUES (0, 'first_response'), (1, 'next_update'), (2, 'resolution'))
                AS m(k, metric)
            CROSS JOIN LATERAL (
                SELECT CASE WHEN %(every)s > 0 AND (t.n * 3 + m.k) %% %(every)s = 0
                            THEN now() - interval '1 minute' * random()
                            ELSE now() + interval '2 hours' + interval '30 days' * random()
                       END AS due_at
            ) AS d
            LIMIT %(targets)s
            """,
            {"s": f"{SUBJECT} %", "tickets": tickets_needed, "every": every, "targets": targets},
        )  # fmt: skip
    loaded = time.monotonic() - started
    # As autovacuum leaves a table that grew over months: visibility and hint bits set.
    execute("VACUUM (ANALYZE) slas_slatarget, slas_ticketsla, tickets_ticketevent, tickets_ticket")
    due = scalar("SELECT count(*) FROM slas_slatarget WHERE state = 'running' AND due_at <= now()")
    return {"targets": inserted, "due": due, "tickets": tickets_needed,
            "seconds": round(loaded, 1)}  # fmt: skip


# ---------------------------------------------------------------- 3. one sweep


@contextlib.contextmanager
def enqueue_timer() -> Iterator[dict[str, float]]:
    """Time spent handing deliveries to Redis after each sweep batch commits."""
    from core import outbox

    spent = {"seconds": 0.0, "deliveries": 0}
    original = outbox.enqueue

    def timed_enqueue(deliveries: list[tuple[int, str]]) -> int:
        started = time.perf_counter()
        try:
            return original(deliveries)
        finally:
            spent["seconds"] += time.perf_counter() - started
            spent["deliveries"] += len(deliveries)

    outbox.enqueue = timed_enqueue
    try:
        yield spent
    finally:
        outbox.enqueue = original


def measure_sweep() -> dict[str, Any]:
    from django.conf import settings

    from slas.services.sweep import explain_claim, sla_sweep

    plan = explain_claim()
    with enqueue_timer() as handed:
        started = time.perf_counter()
        result = sla_sweep()
        seconds = time.perf_counter() - started
    started = time.perf_counter()
    idle = sla_sweep()
    idle_seconds = time.perf_counter() - started
    # What the workers then spend on the burst (slas.enqueue_deliveries), done here in one go.
    from core import outbox
    from core.models import EventDelivery

    left = list(EventDelivery.objects.filter(enqueued_at__isnull=True).values_list("pk", "queue"))
    started = time.perf_counter()
    outbox.enqueue(left)
    handover_seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 3),
        "enqueue_seconds": round(handed["seconds"], 3),
        "deliveries_enqueued": handed["deliveries"],
        "handover_deliveries": len(left),
        "handover_seconds": round(handover_seconds, 2),
        "breached": result.breached,
        "warned": result.warned,
        "batches": result.batches,
        "batch_size": settings.SLA_SWEEP_BATCH_SIZE,
        "idle_ms": round(idle_seconds * 1000, 2),
        "idle_breached": idle.breached,
        "plan": plan,
    }


# ---------------------------------------------------------------- 4. due time to breach


def _start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "supportdesk", *args],
        cwd=ROOT, env=dict(os.environ), stdout=log.open("ab"), stderr=subprocess.STDOUT,
    )  # fmt: skip


def measure_delay(count: int, spread: float) -> dict[str, Any]:
    from django.conf import settings
    from django.utils import timezone

    workdir = Path(tempfile.mkdtemp(prefix="sla-bench-"))
    log = workdir / "celery.log"
    worker = _start(["worker", "-P", "solo", "-Q", "slas", "-n", "sla-bench@%h",
                     "--without-mingle", "--without-gossip", "--loglevel", "WARNING"], log)  # fmt: skip
    beat = _start(["beat", "-s", str(workdir / "beat-schedule"), "--loglevel", "WARNING"], log)
    try:
        time.sleep(8)  # let both start before anything comes due
        first = timezone.now().timestamp() + 3
        ids = _due_soon(count, first=first, spread=spread)
        deadline = time.monotonic() + spread + 60
        while time.monotonic() < deadline:
            left = scalar(
                "SELECT count(*) FROM slas_slatarget WHERE id = ANY(%(ids)s) AND state = 'running'",
                {"ids": ids},
            )
            if not left:
                break
            time.sleep(0.5)
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT EXTRACT(EPOCH FROM breached_at - due_at) FROM slas_slatarget "
                "WHERE id = ANY(%(ids)s) AND breached_at IS NOT NULL",
                {"ids": ids},
            )
            delays = [float(row[0]) for row in cursor.fetchall()]
    finally:
        for process in (beat, worker):
            process.send_signal(signal.SIGTERM)
        for process in (beat, worker):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
    return {
        "clocks": count,
        "breached": len(delays),
        "interval_seconds": settings.SLA_SWEEP_INTERVAL_SECONDS,
        "p50_seconds": round(percentile(delays, 50), 2),
        "p95_seconds": round(percentile(delays, 95), 2),
        "max_seconds": round(max(delays, default=float("nan")), 2),
        "log_tail": log.read_text()[-2000:],
    }


def _due_soon(count: int, *, first: float, spread: float) -> list[int]:
    """`count` first-response clocks on fresh bench tickets, due from `first` over `spread` s."""
    ids = []
    for n in range(count):
        due = datetime.fromtimestamp(first + spread * n / max(count - 1, 1), tz=UTC)
        ticket_id = scalar(
            "INSERT INTO tickets_ticket (community_id, requester_id, subject, description, kind, "
            "severity, tier, status, channel, tags, created_at, updated_at, status_changed_at) "
            "SELECT community_id, requester_id, 'Due soon', 'x', kind, severity, tier, status, "
            "channel, tags, now(), now(), now() FROM tickets_ticket "
            "WHERE subject LIKE %(s)s LIMIT 1 RETURNING id",
            {"s": f"{SUBJECT} %"},
        )
        ids.append(
            scalar(
                "INSERT INTO slas_slatarget (ticket_id, community_id, metric, state, "
                "target_minutes, business, notify_around_the_clock, pause_when_pending, "
                "started_at, due_at, paused_seconds, pauses, created_at, updated_at, severity) "
                "SELECT id, community_id, 'first_response', 'running', 15, false, true, true, "
                "now(), %(due)s, 0, '[]', now(), now(), 'critical' FROM tickets_ticket "
                "WHERE id = %(t)s RETURNING id",
                {"t": ticket_id, "due": due},
            )
        )
    return ids


# ---------------------------------------------------------------- the page


def render(result: dict[str, Any]) -> str:
    sweep, delay, arming, loaded = (
        result["sweep"],
        result["delay"],
        result["arming"],
        result["load"],
    )

    def met(name: str, value: float) -> str:
        text, test = TARGETS[name]
        return "met" if test(value) else "**not met**"

    measured = result["measured_at"].replace("T", " ").replace("+00:00", " UTC")
    lines = [
        "## SLA clocks (`bench/sla_bench.py`)",
        "",
        f"Measured on **{measured}** ({result['machine']['cores']} cores, "
        f"{result['machine']['cpu']}), on the separate database `{SLA_DATABASE}`: "
        f"{loaded['targets']:,} running clocks on {loaded['tickets']:,} tickets "
        f"({loaded['due']:,} of them due, {loaded['seconds']:.0f} s to load). "
        "`python -m supportdesk.embedded exec -- .venv/bin/python -m bench.sla_bench` runs it "
        "again and rewrites this section (bench/run_all.py keeps it).",
        "",
        "| metric | figure | target | met? |",
        "|---|---|---|---|",
        f"| one sweep over {loaded['targets']:,} running clocks, {sweep['breached']:,} due "
        f"(batches of {sweep['batch_size']:,}, {sweep['batches']} transactions) | "
        f"**{sweep['seconds']:.2f} s** ({sweep['enqueue_seconds']:.2f} s of it enqueueing "
        f"{sweep['deliveries_enqueued']:,} deliveries directly) | {TARGETS['sweep'][0]} | "
        f"{met('sweep', sweep['seconds'])} |",
        f"| then, on workers: {sweep['handover_deliveries']:,} outbox deliveries of the "
        f"burst (`sla.breached` × its reactions) handed to Redis | "
        f"{sweep['handover_seconds']:.1f} s | — | — |",
        f"| a sweep with nothing due | {sweep['idle_ms']:.1f} ms | — | — |",
        f"| due time → recorded breach, beat every {delay['interval_seconds']:g} s and one "
        f"worker, {delay['breached']} of {delay['clocks']} clocks, p50 / **p95** / max | "
        f"{delay['p50_seconds']:.2f} s / **{delay['p95_seconds']:.2f} s** / "
        f"{delay['max_seconds']:.2f} s | {TARGETS['delay'][0]} | {met('delay', delay['p95_seconds'])} |",
        f"| open a ticket (`ticket_open`: ticket, message, audit entry, outbox), p50 / p95 | "
        f"{arming['open_p50_ms']:.1f} ms / {arming['open_p95_ms']:.1f} ms | — | — |",
        f"| arm its clocks (`ticket_clocks_sync` on the `slas` worker), p50 / p95 | "
        f"{arming['arm_p50_ms']:.1f} ms / {arming['arm_p95_ms']:.1f} ms | — | — |",
        "",
        "Arming runs on a worker after the ticket is committed, so it adds nothing to the "
        f"request that opens the ticket; per ticket it costs about "
        f"{arming['arm_p50_ms'] / arming['open_p50_ms']:.1f}× the insert itself "
        f"({arming['tickets']} tickets, severities in turn, demo policy grid).",
        "",
        "The claim reads the partial index of running clocks and only the due rows:",
        "",
        "<details>",
        "<summary>Plan of the sweep's claim</summary>",
        "",
        "```",
        sweep["plan"],
        "```",
        "",
        "</details>",
    ]
    busy = [result.get("busy_before_sweep"), result.get("busy_before_delay")]
    if note := busy_note(busy, "the sweep and the delay phases"):
        lines[4:4] = [note, ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sla_bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--targets", type=int, default=1_000_000)
    parser.add_argument("--due-share", type=float, default=0.01)
    parser.add_argument("--arming", type=int, default=300)
    parser.add_argument("--delay-clocks", type=int, default=200)
    parser.add_argument("--json", type=Path, default=JSON)
    parser.add_argument("--doc", type=Path, default=DOC)
    args = parser.parse_args(argv)

    url = with_database(source_database_url(), SLA_DATABASE)
    redis_url = bench_redis_url(source_redis_url())
    created = ensure_database(url)
    print(f"{'created' if created else 'using'} {SLA_DATABASE}; migrating", flush=True)
    setup(url, redis_url)
    _flush_redis(redis_url)
    result: dict[str, Any] = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
    }
    try:
        print(f"arming: opening {args.arming} tickets, then arming their clocks", flush=True)
        result["arming"] = measure_arming(args.arming)
        print(f"  {result['arming']}", flush=True)
        _flush_redis(redis_url)
        print(f"loading {args.targets:,} running clocks", flush=True)
        result["load"] = load(args.targets, args.due_share)
        print(f"  {result['load']}", flush=True)
        result["busy_before_sweep"] = wait_until_quiet(max_busy=0.2, timeout=900)
        print("sweeping once", flush=True)
        result["sweep"] = measure_sweep()
        print(f"  { ({k: v for k, v in result['sweep'].items() if k != 'plan'}) }", flush=True)
        _flush_redis(redis_url)
        result["busy_before_delay"] = wait_until_quiet(max_busy=0.2, timeout=900)
        print(f"due time to breach: {args.delay_clocks} clocks, beat and a worker", flush=True)
        result["delay"] = measure_delay(args.delay_clocks, spread=20.0)
        print(f"  { ({k: v for k, v in result['delay'].items() if k != 'log_tail'}) }", flush=True)
    finally:
        _flush_redis(redis_url)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2, default=str) + "\n")
    write_block("slas", render(result), args.doc)
    print(f"wrote {args.json} and the SLA section of {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
