"""The reports at scale: 1M tickets and 5M messages across 50 communities.

    python -m bench.report_bench [--tickets 1000000] [--requests 40] [--reset] [--json FILE]

Loads a database of its own, `supportdesk_reports_bench` (same server as DATABASE_URL;
created and migrated when missing), with SQL `INSERT … SELECT … generate_series`: two
years of tickets (1M), five messages each (5M: the request, three public replies, an
internal note), two SLA clocks each (first response, resolution), a satisfaction answer
for 30 % of the resolved ones, a time entry for one in three, and a budget per community.
Secondary indexes are dropped before the load and built again after it (the usual bulk-load
order), then the tables are vacuumed and analysed (the reports' covering indexes are read
index-only where the visibility map allows, as autovacuum keeps it on a live desk).

Then gunicorn (2 sync workers) serves it and an agent fetches, `--requests` times each:

- the Support dashboard for the last 30 days: `GET /desk/reports/support/?period=30d`,
- the Community dashboard for the last 30 days: `GET /desk/reports/community/?period=30d`,

and p50 / p95 latency is reported against the 500 ms target. The dashboards read the whole
past days of the period from the daily roll-ups (reports.rollups, built here after the load
and timed) and the rest (the partial first and last days) from the source rows through the
covering indexes of reports/migrations/0004_report_indexes.py. What a ticket event costs the
roll-ups is measured too: the triggers' marking (ticket updates timed with the triggers on
and off, in transactions rolled back) and the rebuild of one marked day; and what it costs
the stored budget-aware priority (reports.priority): its refresh, per event.

Writes its section of docs/benchmarks.md (bench/docs.py).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from bench import load_tickets as lt
from bench.api_bench import bench_redis_url, gunicorn, machine, percentile
from bench.docs import write_block

DATABASE = "supportdesk_reports_bench"
P95_TARGET_MS = 500.0
COMMUNITIES = 50
AGENTS = 40
DEFAULT_JSON = lt.RESULTS_DIR / "reports.json"
PAGES = {
    "Support dashboard, last 30 days": "/desk/reports/support/?period=30d",
    "Community dashboard, last 30 days": "/desk/reports/community/?period=30d",
}
LOADED_TABLES = (
    "tickets_ticket",
    "tickets_message",
    "slas_slatarget",
    "tickets_satisfactionrating",
    "communities_timeentry",
)


def prepare() -> str:
    lt.BENCH_DATABASE = DATABASE  # load_tickets' helpers name the database by this
    url = lt.with_database(lt.source_database_url(), DATABASE)
    created = lt.ensure_database(url)
    lt.setup_django(url)
    from django.core.management import call_command

    print(f"{'created' if created else 'using'} database {DATABASE}; migrating", flush=True)
    call_command("migrate", interactive=False, verbosity=0)
    return url


def cast() -> tuple[list[int], list[int], list[int], int]:
    """Plans, 50 communities with budgets and a representative each, 40 agents."""
    from decimal import Decimal

    from django.contrib.auth.hashers import make_password

    from communities.models import Community, Membership, ServicePlan, SupportBudget
    from core.models import User
    from routing.models import AgentProfile

    password = make_password("bench-password")
    plans = [
        ServicePlan.objects.get_or_create(
            slug=slug,
            defaults={"name": name, "uptime_guarantee": Decimal(up), "downtime_credit_percent": 10},
        )[0]
        for slug, name, up in (
            ("essential", "Essential", "99.5"),
            ("business", "Business", "99.9"),
            ("premium", "Premium", "99.99"),
        )
    ]
    communities, reps = [], []
    for i in range(COMMUNITIES):
        community, _ = Community.objects.get_or_create(
            slug=f"community-{i:02d}",
            defaults={
                "name": f"Community {i:02d}",
                "service_plan": plans[i % 3],
                "time_zone": "UTC",
            },
        )
        SupportBudget.objects.get_or_create(
            community=community, defaults={"hours": 40 + i, "period": "month"}
        )
        rep, _ = User.objects.get_or_create(
            email=f"rep{i:02d}@reports.bench",
            defaults={"password": password},
        )
        Membership.objects.get_or_create(
            user=rep, community=community, defaults={"role": "representative"}
        )
        communities.append(community.pk)
        reps.append(rep.pk)
    agents = []
    for n in range(AGENTS):
        agent, _ = User.objects.get_or_create(
            email=f"agent{n:02d}@reports.bench",
            defaults={"password": password, "is_staff": True},
        )
        AgentProfile.objects.get_or_create(
            user=agent, defaults={"tier_level": 1 + n % 4, "work_days": [1, 2, 3, 4, 5]}
        )
        agents.append(agent.pk)
    return communities, reps, agents, agents[0]


def _indexes(cursor: Any) -> list[tuple[str, str]]:
    """Secondary indexes of the loaded tables that no constraint owns: (name, definition)."""
    cursor.execute(
        """
        SELECT i.indexname, i.indexdef FROM pg_indexes i
        WHERE i.tablename = ANY(%s) AND i.schemaname = 'public'
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
        """,
        [list(LOADED_TABLES)],
    )
    return list(cursor.fetchall())


TICKETS_SQL = """
INSERT INTO tickets_ticket (
    community_id, requester_id, subject, description, kind, severity, tier, status, assignee_id,
    channel, tags, created_at, updated_at, status_changed_at, first_responded_at, resolved_at,
    closed_at, funded, priority_score, priority_reasons)
SELECT c, r, 'Request ' || g, 'Something does not work as it should.',
    (ARRAY['question','guidance_request','change_request','incident','workshop_request'])[1 + g %% 5],
    (ARRAY['low','medium','medium','high','critical'])[1 + (g / 7) %% 5],
    (ARRAY['self_service','community','community','expert','engineering'])[1 + (g / 3) %% 5],
    st, a, (ARRAY['portal','email','email','api','desk'])[1 + (g / 11) %% 5], '{}',
    t, t, t, t + make_interval(mins => 5 + (g * 37) %% 400),
    CASE WHEN st IN ('resolved', 'closed') THEN t + make_interval(hours => 1 + (g * 13) %% 96) END,
    CASE WHEN st = 'closed' THEN t + make_interval(hours => 100) END, false, 0, '[]'
FROM (
    SELECT g,
        (%(communities)s::bigint[])[1 + g %% 50] AS c,
        (%(reps)s::bigint[])[1 + g %% 50] AS r,
        (%(agents)s::bigint[])[1 + (g / 50) %% 40] AS a,
        %(now)s::timestamptz - (g::float / %(n)s) * interval '730 days' AS t,
        CASE WHEN g::float / %(n)s < 0.01 THEN (ARRAY['new','open','assigned','in_progress','waiting_on_customer','resolved'])[1 + g %% 6]
             WHEN g %% 10 = 0 THEN 'closed' ELSE 'resolved' END AS st
    FROM generate_series(1, %(n)s) g
) s
"""

MESSAGES_SQL = """
INSERT INTO tickets_message (ticket_id, author_id, kind, body, channel, created_at)
SELECT t.id, CASE WHEN k IN (1, 3) THEN t.requester_id ELSE COALESCE(t.assignee_id, t.requester_id) END,
    CASE WHEN k = 5 THEN 'internal' ELSE 'public' END, 'A message.', t.channel,
    t.created_at + make_interval(mins => k * 20)
FROM tickets_ticket t, generate_series(1, 5) k
"""

CLOCKS_SQL = """
INSERT INTO slas_slatarget (
    ticket_id, community_id, metric, state, severity, target_minutes, business,
    notify_around_the_clock, pause_when_pending, started_at, due_at, paused_seconds, pauses,
    met_at, breached_at, used_seconds, created_at, updated_at)
SELECT t.id, t.community_id, m.metric,
    CASE WHEN done IS NULL THEN 'running' WHEN done > t.created_at + m.target THEN 'breached' ELSE 'met' END,
    t.severity, EXTRACT(EPOCH FROM m.target)::int / 60, true, false, true,
    t.created_at, t.created_at + m.target, 0, '[]',
    CASE WHEN done IS NOT NULL AND done <= t.created_at + m.target THEN done END,
    CASE WHEN done > t.created_at + m.target THEN t.created_at + m.target END,
    CASE WHEN done IS NOT NULL AND done <= t.created_at + m.target THEN EXTRACT(EPOCH FROM done - t.created_at)::bigint END,
    t.created_at, t.created_at
FROM tickets_ticket t
CROSS JOIN LATERAL (VALUES ('first_response', interval '4 hours', t.first_responded_at),
                           ('resolution', interval '48 hours', t.resolved_at)) AS m(metric, target, done)
"""

RATINGS_SQL = """
INSERT INTO tickets_satisfactionrating (ticket_id, requester_id, score, comment, sent_at, answered_at)
SELECT id, requester_id, CASE WHEN id % 7 = 0 THEN 'bad' ELSE 'good' END, '', resolved_at,
    resolved_at + interval '3 hours'
FROM tickets_ticket WHERE resolved_at IS NOT NULL AND id % 10 < 3
"""

TIME_SQL = """
INSERT INTO communities_timeentry (ticket_id, community_id, agent_id, minutes, note, worked_at, created_at)
SELECT id, community_id, COALESCE(assignee_id, %(agent)s), 15 + (id %% 6) * 15, '',
    first_responded_at, first_responded_at
FROM tickets_ticket WHERE id %% 3 = 0
"""


def load(n: int, *, reset: bool) -> dict[str, float]:
    from django.db import connection
    from django.utils import timezone

    communities, reps, agents, first_agent = cast()
    phases: dict[str, float] = {}
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM tickets_ticket")
        have = cursor.fetchone()[0]
        if have == n and not reset:
            print(f"{have} tickets already loaded", flush=True)
            return phases
        cursor.execute(
            "TRUNCATE " + ", ".join(LOADED_TABLES) + ", tickets_ticketevent, "
            "reports_dailyrollup, reports_rollupstate, reports_rollupdirtyhour CASCADE"
        )
        indexes = _indexes(cursor)
        # The roll-ups are built after the load, so the triggers that mark changed days
        # are off while it runs (as for any bulk import followed by a build).
        for table in LOADED_TABLES:
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX IF EXISTS "{name}"')
        params: dict[str, Any] = {
            "communities": communities,
            "reps": reps,
            "agents": agents,
            "n": n,
            "now": timezone.now(),
            "agent": first_agent,
        }
        # Autocommit, statement by statement; whatever happens, the dropped indexes are
        # built again (a failed load must not leave the tables without them).
        try:
            for label, statement in (
                ("tickets", TICKETS_SQL), ("messages", MESSAGES_SQL), ("sla clocks", CLOCKS_SQL),
                ("ratings", RATINGS_SQL), ("time entries", TIME_SQL),
            ):  # fmt: skip
                started = time.perf_counter()
                if "%(" in statement:
                    cursor.execute(statement, params)
                else:
                    cursor.execute(statement)
                phases[label] = time.perf_counter() - started
                print(
                    f"loaded {label}: {cursor.rowcount} rows in {phases[label]:.0f} s", flush=True
                )
        finally:
            for table in LOADED_TABLES:
                cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
            started = time.perf_counter()
            for _, definition in indexes:
                cursor.execute(definition.replace("CREATE INDEX", "CREATE INDEX IF NOT EXISTS", 1))
            phases["indexes"] = time.perf_counter() - started
        started = time.perf_counter()
        cursor.execute("VACUUM ANALYZE " + ", ".join(LOADED_TABLES))
        phases["analyze"] = time.perf_counter() - started
        print(f"indexes {phases['indexes']:.0f} s, analyze {phases['analyze']:.0f} s", flush=True)
    return phases


def _session_cookie() -> str:
    from django.test import Client

    from core.models import User

    client = Client()
    client.force_login(User.objects.get(email="agent00@reports.bench"))
    return client.cookies["sessionid"].value


def fetch(base: str, path: str, cookie: str, count: int, threads: int = 2) -> list[float]:
    times: list[float] = []
    lock = threading.Lock()
    per = max(count // threads, 1)

    def run() -> None:
        session = requests.Session()
        session.cookies.set("sessionid", cookie)
        for _ in range(per):
            started = time.perf_counter()
            response = session.get(base + path, timeout=120, allow_redirects=False)
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 200:
                raise SystemExit(f"{path}: HTTP {response.status_code}")
            with lock:
                times.append(elapsed)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return times


def priority_refresh_cost(samples: int = 200) -> float:
    """Mean ms of one ticket's priority refresh (what a ticket event costs the reports)."""
    from reports.priority import ticket_priority_refresh
    from tickets.models import Ticket

    ids = list(Ticket.objects.order_by("-pk").values_list("pk", flat=True)[:samples])
    started = time.perf_counter()
    for pk in ids:
        ticket_priority_refresh(ticket_id=pk)
    return (time.perf_counter() - started) * 1000 / max(len(ids), 1)


def build_rollups() -> dict[str, float]:
    """Build the roll-ups of every past day from nothing (timed)."""
    from reports.models import DailyRollup, RollupDirtyHour, RollupState
    from reports.rollups import rollups_refresh

    for model in (DailyRollup, RollupState, RollupDirtyHour):
        model.objects.all().delete()
    started = time.perf_counter()
    days = rollups_refresh()
    seconds = time.perf_counter() - started
    state = RollupState.objects.get()
    print(f"roll-ups: {days} days built in {seconds:.1f} s", flush=True)
    return {
        "days": days,
        "seconds": round(seconds, 1),
        "held_days": (state.last_day - state.first_day).days + 1,
    }


def rollup_event_cost(samples: int = 2000) -> dict[str, float]:
    """What a ticket event costs the roll-ups: the triggers' marking, as the difference of
    `samples` ticket updates (status and resolution, which the triggers watch) with the
    triggers on and off, each in a transaction rolled back; and rebuilding one marked day."""
    from datetime import timedelta

    from django.db import connection, transaction

    from reports.rollups import build_days

    class Rollback(Exception):
        pass

    def updates(triggers: bool) -> float:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                if not triggers:
                    cursor.execute("ALTER TABLE tickets_ticket DISABLE TRIGGER USER")
                cursor.execute(
                    "SELECT id FROM tickets_ticket ORDER BY id LIMIT %s OFFSET 1000", [samples]
                )
                ids = [row[0] for row in cursor.fetchall()]
                started = time.perf_counter()
                for pk in ids:
                    cursor.execute(
                        "UPDATE tickets_ticket SET status = 'open', resolved_at = NULL "
                        "WHERE id = %s",
                        [pk],
                    )
                elapsed = time.perf_counter() - started
                raise Rollback
        except Rollback:
            return elapsed * 1000 / samples

    updates(True)  # warm
    with_triggers = statistics.median(updates(True) for _ in range(3))
    without = statistics.median(updates(False) for _ in range(3))
    from django.utils import timezone

    day = (timezone.now() - timedelta(days=40)).date()
    started = time.perf_counter()
    for _ in range(3):
        build_days([day])
    rebuild = (time.perf_counter() - started) * 1000 / 3
    return {
        "update_ms": round(without, 3),
        "update_with_triggers_ms": round(with_triggers, 3),
        "marking_ms": round(max(with_triggers - without, 0.0), 3),
        "day_rebuild_ms": round(rebuild, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--reset", action="store_true")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON)
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args(argv)
    prepare()
    started = time.perf_counter()
    phases = load(args.tickets, reset=args.reset)
    load_seconds = time.perf_counter() - started
    from django.db import connection

    with connection.cursor() as cursor:
        counts = {}
        for table in ("tickets_ticket", "tickets_message"):
            cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = %s", [table])
            counts[table] = cursor.fetchone()[0]
    built = build_rollups()
    cookie = _session_cookie()
    load_before = round(os.getloadavg()[0], 1)
    results: dict[str, Any] = {}
    with gunicorn(
        workers=2,
        redis_url=bench_redis_url(lt.source_redis_url()),
        log_path=lt.RESULTS_DIR / "reports-gunicorn.log",
    ) as server:
        for label, path in PAGES.items():
            fetch(server.url, path, cookie, 2, threads=1)  # warm
            times = fetch(server.url, path, cookie, args.requests)
            results[label] = {
                "p50_ms": round(percentile(times, 50), 1),
                "p95_ms": round(percentile(times, 95), 1),
                "mean_ms": round(statistics.mean(times), 1),
                "requests": len(times),
            }
            print(
                f"{label}: p50 {results[label]['p50_ms']} ms, p95 {results[label]['p95_ms']} ms",
                flush=True,
            )
    refresh_ms = round(priority_refresh_cost(), 2)
    print(f"priority refresh per ticket event: {refresh_ms} ms", flush=True)
    event = rollup_event_cost()
    print(f"roll-ups per ticket event: {event}", flush=True)
    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "tickets": counts["tickets_ticket"],
        "messages": counts["tickets_message"],
        "load_seconds": round(load_seconds, 1) if phases else None,
        "load_phases": {k: round(v, 1) for k, v in phases.items()},
        "pages": results,
        "priority_refresh_ms": refresh_ms,
        "rollups": built,
        "rollup_event": event,
        "load_average": load_before,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2))
    if not args.no_docs:
        write_block("reports", markdown(result))
    return 0


BEFORE = (
    "Before the covering indexes and shared reads (same data, 2026-11-25 21:17 UTC, a busier "
    "machine): Support 4889 / 6259 ms, Community 4562 / 5797 ms (p50 / p95); one request "
    "in-process: Support 2861 ms and 64 queries, Community 1049 ms and 132 queries."
)
AFTER_INDEXES = (
    "With the covering indexes and shared reads but no roll-ups (2026-11-25 22:06 UTC, load "
    "average 5.8): Support 1506 / 1873 ms, Community 839 / 976 ms; in-process about 750-900 "
    "ms (38 queries) and 450-530 ms (32 queries), the dearest figure being first-contact "
    "resolution (one probe of the public messages per resolved ticket)."
)


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "### Reports at 1M tickets (bench/report_bench.py)",
        "",
        f"{result['tickets']:,} tickets and {result['messages']:,} messages across {COMMUNITIES} communities "
        f"(two SLA clocks per ticket, satisfaction answers for 30 % of the resolved, a time entry for one in three); "
        f"gunicorn with 2 sync workers, 2 client threads; {result['when']}.",
        "",
        "| page | p50 | p95 | target p95 |",
        "|---|---|---|---|",
    ]
    for label, row in result["pages"].items():
        mark = "met" if row["p95_ms"] < P95_TARGET_MS else "missed"
        lines.append(
            f"| {label} | {row['p50_ms']} ms | {row['p95_ms']} ms | < {P95_TARGET_MS:.0f} ms ({mark}) |"
        )
    built, event = result["rollups"], result["rollup_event"]
    lines += [
        "",
        "The whole past days of each period (29 of the last 30 days, and of the 30 before them "
        "for the comparison) come from the daily roll-ups (reports.rollups: one row per day and "
        "community with the counts and the durations the medians are taken over), the partial "
        "first and last days from the source rows through the covering indexes of "
        "reports/migrations/0004_report_indexes.py. The figures are the same either way "
        "(tests/reports/test_rollups.py).",
        "",
        f"- Building the roll-ups of the {built['held_days']} days loaded: {built['seconds']} s "
        f"({built['seconds'] * 1000 / max(built['days'], 1):.0f} ms a day, 50 communities).",
        f"- What a ticket event adds: the triggers mark the hour it changed, "
        f"{event['marking_ms']} ms on a ticket update of {event['update_ms']} ms "
        f"({event['update_with_triggers_ms']} ms with the triggers; 2,000 updates of the "
        "status and resolution, in a transaction rolled back); once a minute beat rebuilds "
        f"each past day marked since, {event['day_rebuild_ms']} ms a day. Changes to today "
        "cost no rebuild: today is read from the source rows.",
        f"- The stored priority's refresh (reports.priority): {result['priority_refresh_ms']} "
        "ms per ticket event (run by a worker, after the event's transaction).",
        "",
        BEFORE,
        "",
        AFTER_INDEXES,
    ]
    if result.get("load_seconds"):
        phases = ", ".join(f"{k} {v:.0f} s" for k, v in result["load_phases"].items())
        lines.append(f"\nBulk load: {result['load_seconds']:.0f} s ({phases}).")
    else:
        lines.append(
            "\nThis run reused the loaded database (the bulk load took about 13 minutes on a "
            "busy machine)."
        )
    lines.append(
        "\nThe machine (2 cores) was shared with other work while this ran (load average "
        f"{result.get('load_average', '?')} when the requests started): treat the figures as "
        "upper bounds."
    )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
