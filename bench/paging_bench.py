"""Measure paging: from a critical ticket to the first notification sent, with beat and a
worker running; and one sweep over many open pages whose escalations are due.

    python -m bench.paging_bench [--latency 50] [--pages 10000] [--background 100000]
                                 [--json FILE] [--doc docs/benchmarks.md]

Runs on a database of its own, `supportdesk_bench_paging`, on the same server as
DATABASE_URL (created and migrated when missing; the development and other benches'
databases are never touched), with Redis database 1 of the configured Redis for its Celery
messages (emptied before and after). Run it inside `python -m supportdesk.embedded exec --`.

1. Latency: a Celery worker (queue `paging`) and Celery beat (the settings' schedule) are
   started; a primary and a backup schedule, a policy (primary, wait 5 min, backup) and the
   route for critical tickets are made. `--latency` times, one after the other: a ticket is
   inserted, `ticket.critical` is published and committed (what routing does), and the
   clock runs until the first email delivery of the page is recorded as sent (the worker
   ran the outbox delivery, the paging handler opened the page and notified the primary,
   and the notification's email went out through the configured backend). p50 / p95.
2. Sweep: `--pages` triggered pages whose next step came due in the last minute, among
   `--background` resolved ones (a year of paging), VACUUM (ANALYZE); then one
   `incidents.paging.services.sweep.paging_sweep` in this process: wall time (claiming,
   leasing and handing the page ids to Redis in messages of PAGING_SWEEP_PAGES_PER_TASK),
   and the plan of the claim. Then a sweep with nothing due.

The figures go to bench/results/paging.json and into docs/benchmarks.md as the marked
block `paging` (bench/docs.py), which bench/run_all.py keeps when it rewrites the page.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from datetime import time as wall_time
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

PAGING_DATABASE = "supportdesk_bench_paging"
JSON = RESULTS_DIR / "paging.json"
TITLE = "Paging bench"

TARGETS = {
    "latency": ("< 2 s", lambda v: v < 2.0),
    "sweep": ("< 1 s", lambda v: v < 1.0),
}


# ---------------------------------------------------------------- the database


def ensure_database(url: str) -> bool:
    import psycopg
    from psycopg import sql

    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as conn:
        found = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [PAGING_DATABASE]
        ).fetchone()
        if found:
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(PAGING_DATABASE)))
        return True


def setup(database_url: str, redis_url: str) -> None:
    os.environ.update(
        DATABASE_URL=database_url, REDIS_URL=redis_url, DJANGO_SETTINGS_MODULE=SETTINGS_MODULE,
        DEBUG="false",
    )  # fmt: skip
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    if settings.DATABASES["default"]["NAME"] != PAGING_DATABASE:
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


def reset() -> None:
    """Forget the pages and notifications of an earlier run (policies stay)."""
    execute(
        "TRUNCATE paging_pageevent, paging_page, notify_desknotification, notify_delivery, "
        "notify_notification, core_eventdelivery, core_event"
    )


def ensure_policy() -> Any:
    """Two weekly schedules of bench agents, the policy and the critical-ticket route."""
    from core.models import User
    from incidents.oncall.models import Layer, LayerParticipant, Schedule
    from incidents.paging.models import EscalationPolicy, PolicyRoute
    from incidents.paging.services.policies import policy_create

    policy = EscalationPolicy.objects.filter(name=TITLE).first()
    if policy is not None:
        return policy
    people = []
    for n in range(4):
        person, _ = User.objects.get_or_create(
            email=f"pager{n}@bench.example", defaults={"is_staff": True, "first_name": f"P{n}"}
        )
        people.append(person)
    schedules = []
    for name, members in (("Bench primary", people[:2]), ("Bench backup", people[2:])):
        schedule = Schedule.objects.create(name=name)
        layer = Layer.objects.create(
            schedule=schedule, name="Weekly", kind="weekly", handoff_weekday=0,
            handoff_time=wall_time(9), starts_at=datetime(2026, 1, 5, 9, tzinfo=UTC),
        )  # fmt: skip
        for position, person in enumerate(members):
            LayerParticipant.objects.create(layer=layer, user=person, position=position)
        schedules.append(schedule)
    policy = policy_create(
        name=TITLE,
        steps=[
            {"kind": "notify_on_call", "schedule": schedules[0], "important": True},
            {"kind": "wait", "wait_minutes": 5},
            {"kind": "notify_on_call", "schedule": schedules[1], "important": True},
        ],
    )
    PolicyRoute.objects.create(position=0, cause="critical_ticket", policy=policy)
    return policy


# ---------------------------------------------------------------- 1. ticket.critical → sent


def _start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "supportdesk", *args],
        cwd=ROOT, env=dict(os.environ), stdout=log.open("ab"), stderr=subprocess.STDOUT,
    )  # fmt: skip


def _ticket(community_id: int, requester_id: int, n: int) -> int:
    return int(
        scalar(
            "INSERT INTO tickets_ticket (community_id, requester_id, subject, description, "
            "kind, severity, tier, status, channel, tags, created_at, updated_at, "
            "status_changed_at) VALUES (%(c)s, %(r)s, %(s)s, 'Hub down', 'incident', "
            "'critical', 'emergency', 'assigned', 'portal', '{}', now(), now(), now()) "
            "RETURNING id",
            {"c": community_id, "r": requester_id, "s": f"{TITLE} {n}"},
        )
    )


def measure_latency(count: int) -> dict[str, Any]:
    from django.db import transaction

    from communities.models import Community
    from core import outbox
    from core.models import User

    community = Community.objects.order_by("pk").first()
    requester = User.objects.get(email=representative_email(1))
    assert community is not None
    workdir = Path(tempfile.mkdtemp(prefix="paging-bench-"))
    log = workdir / "celery.log"
    worker = _start(["worker", "-P", "solo", "-Q", "paging", "-n", "paging-bench@%h",
                     "--without-mingle", "--without-gossip", "--loglevel", "WARNING"], log)  # fmt: skip
    beat = _start(["beat", "-s", str(workdir / "beat-schedule"), "--loglevel", "WARNING"], log)
    seconds: list[float] = []
    desk: list[float] = []
    missed = 0
    try:
        # One page first, not counted, to know both have started (and warmed up).
        for n in range(-1, count):
            ticket_id = _ticket(community.pk, requester.pk, n)
            with transaction.atomic():
                outbox.publish("ticket.critical", community_id=community.pk, ticket_id=ticket_id)
                started = time.time()
            deadline = time.monotonic() + (180 if n < 0 else 30)
            row = None
            while time.monotonic() < deadline:
                row = _first_sent(ticket_id)
                if row is not None and row[0] is not None:
                    break
                time.sleep(0.005)
            if n < 0:
                if row is None or row[0] is None:
                    raise SystemExit(
                        f"The worker paged nobody in 180 s:\n{log.read_text()[-3000:]}"
                    )
                continue
            if row is None or row[0] is None:
                missed += 1
                continue
            seconds.append(row[0] - started)
            if row[1] is not None:
                desk.append(row[1] - started)
    finally:
        for process in (beat, worker):
            process.send_signal(signal.SIGTERM)
        for process in (beat, worker):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
    return {
        "pages": count,
        "measured": len(seconds),
        "missed": missed,
        "p50_seconds": round(percentile(seconds, 50), 3),
        "p95_seconds": round(percentile(seconds, 95), 3),
        "max_seconds": round(max(seconds, default=float("nan")), 3),
        "desk_p50_seconds": round(percentile(desk, 50), 3),
        "log_tail": log.read_text()[-2000:],
    }


def _first_sent(ticket_id: int) -> tuple[float | None, float | None] | None:
    """When the page's first email and first desk notification were sent (epoch seconds)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT EXTRACT(EPOCH FROM min(d.sent_at) FILTER (WHERE d.channel = 'email')),
                   EXTRACT(EPOCH FROM min(d.sent_at) FILTER (WHERE d.channel = 'desk'))
            FROM paging_page p
            JOIN notify_notification n ON n.source = 'page' AND n.source_id = p.id
            JOIN notify_delivery d ON d.notification_id = n.id AND d.status = 'sent'
            WHERE p.ticket_id = %s
            """,
            [ticket_id],
        )
        row = cursor.fetchone()
    if row is None or row[0] is None:
        return None
    return (float(row[0]), None if row[1] is None else float(row[1]))


# ---------------------------------------------------------------- 2. one sweep


def load_pages(due: int, background: int, policy_id: int) -> dict[str, Any]:
    from django.db import transaction

    started = time.monotonic()
    with transaction.atomic():
        execute("SET LOCAL synchronous_commit TO off")
        reset()
        execute(
            """
            INSERT INTO paging_page (cause, dedup_key, title, details, severity, service,
                policy_id, state, step_index, repeat, next_escalation_at, escalation_done,
                resolved_at, reminders, trigger_count, last_triggered_at, in_maintenance,
                source_data, created_at, updated_at)
            SELECT 'integration', 'old:' || n, 'Old page ' || n, '', 'high', 'api', %(policy)s,
                   'resolved', 3, 0, NULL, true,
                   now() - interval '1 day' * (n %% 365), 0, 1, now() - interval '1 day' * (n %% 365),
                   false, '{}', now() - interval '1 day' * (n %% 365), now()
            FROM generate_series(1, %(background)s) AS n
            """,
            {"policy": policy_id, "background": background},
        )
        execute(
            """
            INSERT INTO paging_page (cause, dedup_key, title, details, severity, service,
                policy_id, state, step_index, repeat, next_escalation_at, escalation_done,
                reminders, trigger_count, last_triggered_at, in_maintenance, source_data,
                created_at, updated_at)
            SELECT 'integration', 'due:' || n, 'Due page ' || n, '', 'critical', 'api',
                   %(policy)s, 'triggered', 2, 0, now() - interval '1 minute' * random(), false,
                   0, 1, now() - interval '6 minutes', false, '{}',
                   now() - interval '6 minutes', now()
            FROM generate_series(1, %(due)s) AS n
            """,
            {"policy": policy_id, "due": due},
        )
    loaded = time.monotonic() - started
    execute("VACUUM (ANALYZE) paging_page")
    return {
        "due": scalar(
            "SELECT count(*) FROM paging_page WHERE state = 'triggered' "
            "AND next_escalation_at <= now()"
        ),
        "background": background,
        "seconds": round(loaded, 1),
    }


def explain_claim() -> str:
    from django.db import connection, transaction
    from django.utils import timezone

    from incidents.paging.services.sweep import ESCALATIONS_SQL, FIRST, PLAN_SETTINGS

    claim = ESCALATIONS_SQL.split("), claimed AS", 1)[0].replace("WITH due AS (", "", 1)
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(PLAN_SETTINGS)
        cursor.execute(
            "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + claim,
            {"now": now, "batch": 2000, "after_at": FIRST, "after_id": 0, "lease": now},
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
        transaction.set_rollback(True)
    return plan


def measure_sweep() -> dict[str, Any]:
    from django.conf import settings

    from incidents.paging.services import dispatch
    from incidents.paging.services.sweep import paging_sweep

    plan = explain_claim()
    spent = {"seconds": 0.0}
    original = dispatch.advance_soon

    def timed(page_ids: Any) -> int:
        started = time.perf_counter()
        try:
            return original(page_ids)
        finally:
            spent["seconds"] += time.perf_counter() - started

    dispatch.advance_soon = timed
    try:
        started = time.perf_counter()
        result = paging_sweep()
        seconds = time.perf_counter() - started
    finally:
        dispatch.advance_soon = original
    started = time.perf_counter()
    idle = paging_sweep()
    idle_seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 3),
        "enqueue_seconds": round(spent["seconds"], 3),
        "dispatched": result.dispatched,
        "batches": result.batches,
        "messages": result.messages,
        "batch_size": settings.PAGING_SWEEP_BATCH_SIZE,
        "pages_per_message": settings.PAGING_SWEEP_PAGES_PER_TASK,
        "idle_ms": round(idle_seconds * 1000, 2),
        "idle_dispatched": idle.dispatched,
        "plan": plan,
    }


# ---------------------------------------------------------------- the page


def render(result: dict[str, Any]) -> str:
    latency, sweep, loaded = result["latency"], result["sweep"], result["load"]

    def met(name: str, value: float) -> str:
        text, test = TARGETS[name]
        return "met" if test(value) else "**not met**"

    measured = result["measured_at"].replace("T", " ").replace("+00:00", " UTC")
    lines = [
        "## Paging (`bench/paging_bench.py`)",
        "",
        f"Measured on **{measured}** ({result['machine']['cores']} cores, "
        f"{result['machine']['cpu']}), on the separate database `{PAGING_DATABASE}`. "
        "`python -m supportdesk.embedded exec -- .venv/bin/python -m bench.paging_bench` runs "
        "it again and rewrites this section (bench/run_all.py keeps it).",
        "",
        "| metric | figure | target | met? |",
        "|---|---|---|---|",
        f"| `ticket.critical` published → the primary's first email sent, beat and one "
        f"worker running, {latency['measured']} of {latency['pages']} pages, p50 / **p95** / "
        f"max | {latency['p50_seconds']:.2f} s / **{latency['p95_seconds']:.2f} s** / "
        f"{latency['max_seconds']:.2f} s | {TARGETS['latency'][0]} | "
        f"{met('latency', latency['p95_seconds'])} |",
        f"| the same to the desk notification (written by the paging worker itself), p50 | "
        f"{latency['desk_p50_seconds']:.2f} s | — | — |",
        f"| one sweep, {sweep['dispatched']:,} open pages with a step due among "
        f"{loaded['background']:,} resolved ones (batches of {sweep['batch_size']:,}, "
        f"{sweep['batches']} transactions, {sweep['messages']} messages of "
        f"{sweep['pages_per_message']} pages) | **{sweep['seconds']:.2f} s** "
        f"({sweep['enqueue_seconds']:.2f} s of it handing the ids to Redis) | "
        f"{TARGETS['sweep'][0]} | {met('sweep', sweep['seconds'])} |",
        f"| a sweep with nothing due | {sweep['idle_ms']:.1f} ms | — | — |",
        "",
        "The sweep only claims and hands over: it leases each due page "
        "(`dispatched_until`) and sends the ids to the `paging` workers, which run the steps, "
        "each behind the engine's conditional UPDATE. The claim reads the partial index of "
        "due escalations and only the due rows:",
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
    busy = [result.get("busy_before_latency"), result.get("busy_before_sweep")]
    if note := busy_note(busy, "each phase"):
        lines[4:4] = [note, ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.paging_bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--latency", type=int, default=50)
    parser.add_argument("--pages", type=int, default=10_000)
    parser.add_argument("--background", type=int, default=100_000)
    parser.add_argument("--json", type=Path, default=JSON)
    parser.add_argument("--doc", type=Path, default=DOC)
    args = parser.parse_args(argv)

    url = with_database(source_database_url(), PAGING_DATABASE)
    redis_url = bench_redis_url(source_redis_url())
    created = ensure_database(url)
    print(f"{'created' if created else 'using'} {PAGING_DATABASE}; migrating", flush=True)
    setup(url, redis_url)
    _flush_redis(redis_url)
    result: dict[str, Any] = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
    }
    try:
        ensure_cast()
        policy = ensure_policy()
        reset()
        result["busy_before_latency"] = wait_until_quiet(max_busy=0.2, timeout=900)
        print(f"latency: {args.latency} critical tickets, beat and a worker", flush=True)
        result["latency"] = measure_latency(args.latency)
        print(
            f"  { ({k: v for k, v in result['latency'].items() if k != 'log_tail'}) }", flush=True
        )
        _flush_redis(redis_url)
        print(f"loading {args.pages:,} due pages among {args.background:,} resolved", flush=True)
        result["load"] = load_pages(args.pages, args.background, policy.pk)
        print(f"  {result['load']}", flush=True)
        result["busy_before_sweep"] = wait_until_quiet(max_busy=0.2, timeout=900)
        print("sweeping once", flush=True)
        result["sweep"] = measure_sweep()
        print(f"  { ({k: v for k, v in result['sweep'].items() if k != 'plan'}) }", flush=True)
    finally:
        _flush_redis(redis_url)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2, default=str) + "\n")
    write_block("paging", render(result), args.doc)
    print(f"wrote {args.json} and the paging section of {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
