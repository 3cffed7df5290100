"""Measure incidents: one reminder sweep over 10,000 active incidents, and posting a status
update on an incident linked to 5,000 tickets across 50 communities (the POST, and the whole
fan-out by a real worker).

    python -m bench.incident_bench [--tickets 5000] [--communities 50] [--posts 20]
                                   [--incidents 10000] [--fan-out-limit 1800]
                                   [--json FILE] [--doc docs/benchmarks.md]

Runs on a database of its own, `supportdesk_bench_incidents`, on the same server as
DATABASE_URL (created and migrated when missing), with the benches' Redis database for its
Celery messages (emptied before and after). Run it inside `python -m supportdesk.embedded
exec --`.

1. Sweep: `--incidents` active incidents whose status update is due (all of them: the worst
   case), VACUUM (ANALYZE); one `incidents.sweep` (the task's body, in this process): the
   reminder rows made with one INSERT … SELECT per cause and their ids handed to Redis in
   messages of 200; then a sweep with nothing new.
2. POST: 50 communities with a representative each, 5,000 tickets spread over them, one
   incident linked to all of them; `--posts` status updates POSTed to the API
   (`/api/v1/incidents/{id}/updates/`, in this process through Django's test client, with a
   signed-in agent) and timed (p50 / p95 / max), no worker running: the POST writes the
   update, the status, the timeline and the next due time, and hands the fan-out over.
3. Fan-out: a Celery worker (queue `default`, two processes) is started, one more update is
   POSTed and the clock runs until its fan-out is recorded as finished (50 representatives
   notified, 5,000 public replies through tickets' `message_add`), or `--fan-out-limit`
   seconds; a fan-out unfinished for two minutes is handed out again, as the beat sweeper
   does.

The figures go to bench/results/incidents.json and into docs/benchmarks.md as the block
`incidents` (bench/docs.py).
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
from pathlib import Path
from typing import Any

from bench.api_bench import _flush_redis, bench_redis_url, machine, percentile, wait_until_quiet
from bench.docs import DOC, busy_note, write_block
from bench.load_tickets import (
    RESULTS_DIR,
    ROOT,
    SETTINGS_MODULE,
    source_database_url,
    source_redis_url,
    with_database,
)

DATABASE = "supportdesk_bench_incidents"
JSON = RESULTS_DIR / "incidents.json"
DOMAIN = "incident-bench.example"

TARGETS = {
    "post": ("< 200 ms", lambda v: v < 0.2),
    "sweep": ("< 1 s", lambda v: v < 1.0),
}


def ensure_database(url: str) -> bool:
    import psycopg
    from psycopg import sql

    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]).fetchone():
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
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

    if settings.DATABASES["default"]["NAME"] != DATABASE:
        raise SystemExit(f"Refusing to run against {settings.DATABASES['default']['NAME']!r}.")
    call_command("migrate", interactive=False, verbosity=0)


def execute(statement: str, params: dict[str, Any] | list[Any] | None = None) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return int(cursor.rowcount)


def reset() -> None:
    execute(
        "TRUNCATE incidents_incident, incidents_timelineentry, incidents_statusupdate, "
        "incidents_updatereply, incidents_reminder, incidents_incidentticket, "
        "incidents_incidentcommunity, notify_desknotification, notify_delivery, "
        "notify_notification, core_eventdelivery, core_event, paging_page, paging_pageevent "
        "CASCADE"
    )


# ---------------------------------------------------------------- the cast


def ensure_cast(communities: int, tickets: int) -> dict[str, Any]:
    from decimal import Decimal

    from communities.models import Community, Membership, ServicePlan
    from core.models import User

    plan, _ = ServicePlan.objects.get_or_create(
        slug="bench-premium",
        defaults={"name": "Bench premium", "uptime_guarantee": Decimal("99.9"),
                  "downtime_credit_percent": 100, "maintenance_window": "8-hour weekly"},
    )  # fmt: skip
    agent, _ = User.objects.get_or_create(
        email=f"commander@{DOMAIN}", defaults={"is_staff": True, "first_name": "Commander"}
    )
    ids = []
    reps = []
    for n in range(communities):
        community, _ = Community.objects.get_or_create(
            slug=f"inc-bench-{n:02d}",
            defaults={"name": f"Incident bench {n:02d}", "service_plan": plan},
        )
        rep, _ = User.objects.get_or_create(
            email=f"rep{n:02d}@{DOMAIN}", defaults={"first_name": f"Rep {n:02d}"}
        )
        Membership.objects.get_or_create(
            user=rep, community=community, defaults={"role": Membership.Role.REPRESENTATIVE}
        )
        ids.append(community.pk)
        reps.append(rep.pk)
    have = int(
        _scalar("SELECT count(*) FROM tickets_ticket WHERE subject LIKE 'Bench incident %%'")
    )
    if have < tickets:
        from tickets.models import Ticket

        Ticket.objects.bulk_create(
            [
                Ticket(
                    community_id=ids[n % communities], requester_id=reps[n % communities],
                    subject=f"Bench incident {n}", description="The hub is down.",
                    kind="incident", severity="high", tier="community", status="assigned",
                )
                for n in range(have, tickets)
            ],
            batch_size=1000,
        )  # fmt: skip
    return {"agent": agent, "community_ids": ids}


def _scalar(statement: str, params: Any = None) -> Any:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        row = cursor.fetchone()
        return row[0] if row else None


def linked_incident(agent: Any, community_ids: list[int], tickets: int) -> Any:
    from incidents.services.lifecycle import incident_declare

    incident = incident_declare(
        actor=agent, title="Hub API down for everyone", severity="SEV1", maintenance=True
    )
    execute(
        "INSERT INTO incidents_incidentcommunity (incident_id, community_id, added_at) "
        "SELECT %s, unnest(%s::bigint[]), now()",
        [incident.pk, community_ids],
    )
    execute(
        """INSERT INTO incidents_incidentticket (incident_id, ticket_id, linked_by_id, linked_at)
        SELECT %s, id, %s, now() FROM tickets_ticket WHERE subject LIKE 'Bench incident %%'
        ORDER BY id LIMIT %s""",
        [incident.pk, agent.pk, tickets],
    )
    execute("VACUUM (ANALYZE) incidents_incidentticket")
    return incident


# ---------------------------------------------------------------- 1. POST and fan-out


def _start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "supportdesk", *args],
        cwd=ROOT, env=dict(os.environ), stdout=log.open("ab"), stderr=subprocess.STDOUT,
    )  # fmt: skip


def _post(client: Any, incident_id: int, n: int) -> tuple[float, int]:
    started = time.perf_counter()
    response = client.post(
        f"/api/v1/incidents/{incident_id}/updates/",
        {"body": f"Dear [Customer Name], update {n}: we are restoring the API.",
         "status": "identified" if n % 2 else "investigating"},
        content_type="application/json",
    )  # fmt: skip
    seconds = time.perf_counter() - started
    if response.status_code != 201:
        raise SystemExit(f"POST answered {response.status_code}: {response.content[:500]!r}")
    return seconds, int(response.json()["id"])


def measure_posts(incident: Any, agent: Any, posts: int) -> dict[str, Any]:
    """POSTs with no worker running: the fan-outs are handed over and left (marked done
    and their messages dropped afterwards, so that the fan-out measured next is alone)."""
    from django.test import Client

    from incidents.models import StatusUpdate

    client = Client()
    client.force_login(agent)
    _post(client, incident.pk, 0)  # warm-up, not counted
    seconds = [_post(client, incident.pk, n)[0] for n in range(1, posts + 1)]
    StatusUpdate.objects.filter(incident=incident).update(fanout_done_at=datetime.now(UTC))
    return {
        "posts": posts,
        "p50_seconds": round(percentile(seconds, 50), 4),
        "p95_seconds": round(percentile(seconds, 95), 4),
        "max_seconds": round(max(seconds), 4),
    }


def measure_fan_out(incident: Any, agent: Any, limit: float) -> dict[str, Any]:
    """One update with a worker running until its fan-out is finished (or `limit` s).
    Like the beat sweeper, a fan-out unfinished for two minutes is handed out again (another
    process emptying the benches' Redis database loses queued messages; nothing else)."""
    from django.test import Client

    from incidents.models import StatusUpdate, UpdateReply
    from incidents.notify.models import Notification
    from incidents.services.updates import stalled_fan_outs
    from incidents.tasks import fan_out_update

    client = Client()
    client.force_login(agent)
    workdir = Path(tempfile.mkdtemp(prefix="incident-bench-"))
    log = workdir / "celery.log"
    worker = _start(["worker", "-c", "2", "-Q", "default", "-n", "incident-bench@%h",
                     "--without-mingle", "--without-gossip", "--loglevel", "WARNING"], log)  # fmt: skip
    handed_again = 0
    try:
        time.sleep(5)  # the worker's start, not the fan-out's
        post_seconds, update_id = _post(client, incident.pk, 999)
        started = time.time()
        deadline = time.monotonic() + limit
        next_sweep = time.monotonic() + 60
        done = None
        while time.monotonic() < deadline:
            done = (
                StatusUpdate.objects.filter(pk=update_id)
                .values_list("fanout_done_at", flat=True)
                .first()
            )
            if done is not None:
                break
            if time.monotonic() >= next_sweep:
                for stalled in stalled_fan_outs():
                    fan_out_update.delay(stalled)
                    handed_again += 1
                next_sweep = time.monotonic() + 60
            time.sleep(0.5)
        elapsed = (done.timestamp() if done is not None else time.time()) - started
        replies = UpdateReply.objects.filter(update_id=update_id, message__isnull=False).count()
        notified = Notification.objects.filter(
            key__startswith=f"incident-update/{update_id}/"
        ).count()
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
    return {
        "post_seconds": round(post_seconds, 4),
        "finished": done is not None,
        "fan_out_seconds": round(elapsed, 1),
        "replies": replies,
        "replies_per_second": round(replies / elapsed, 1) if elapsed else None,
        "representatives_notified": notified,
        "handed_again": handed_again,
        "log_tail": log.read_text()[-2000:],
    }


# ---------------------------------------------------------------- 2. the sweep


def load_incidents(count: int, agent_id: int) -> dict[str, Any]:
    from django.db import transaction

    started = time.monotonic()
    with transaction.atomic():
        execute(
            """
            INSERT INTO incidents_incident (title, summary, severity, status, maintenance,
                declared_by_id, declared_at, impact_started_at, detected_at, commander_id,
                next_update_due_at, first_public_update_at, first_update_due_at, key,
                updated_at)
            SELECT 'Active ' || n, '', 'SEV2', 'identified', false, %(agent)s,
                   now() - interval '2 hours', now() - interval '2 hours',
                   now() - interval '2 hours', %(agent)s,
                   now() - interval '1 minute' * random(), now() - interval '1 hour',
                   now() - interval '105 minutes', 'sweep:' || n, now()
            FROM generate_series(1, %(count)s) AS n
            """,
            {"agent": agent_id, "count": count},
        )
    loaded = time.monotonic() - started
    execute("VACUUM (ANALYZE) incidents_incident")
    return {"incidents": count, "seconds": round(loaded, 1)}


def measure_sweep() -> dict[str, Any]:
    from django.db import connection

    from incidents.models import Reminder
    from incidents.tasks import sweep

    started = time.perf_counter()
    made = sweep()  # in autocommit: the hand-over to Redis runs at once
    seconds = time.perf_counter() - started
    started = time.perf_counter()
    again = sweep()
    idle = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN (COSTS OFF) SELECT id FROM incidents_incident WHERE next_update_due_at <= now() "
            "AND status IN ('identified', 'investigating', 'monitoring')"
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    return {
        "seconds": round(seconds, 3),
        "reminders": made,
        "rows": Reminder.objects.count(),
        "idle_ms": round(idle * 1000, 1),
        "idle_reminders": again,
        "plan": plan,
    }


# ---------------------------------------------------------------- the page


def render(result: dict[str, Any]) -> str:
    posts, fan, sweep = result["posts"], result["fan_out"], result["sweep"]

    def met(name: str, value: float) -> str:
        return "met" if TARGETS[name][1](value) else "**not met**"

    measured = result["measured_at"].replace("T", " ").replace("+00:00", " UTC")
    if fan["finished"]:
        whole = f"{fan['fan_out_seconds']:.1f} s ({fan['replies_per_second']} replies/s)"
    else:
        rate = fan["replies_per_second"] or 0
        projected = result["tickets"] / rate if rate else float("nan")
        whole = (
            f"not finished after {fan['fan_out_seconds']:.0f} s: {fan['replies']:,} replies "
            f"({rate} replies/s; all {result['tickets']:,} in about {projected / 60:.0f} min)"
        )
    lines = [
        "## Incidents (`bench/incident_bench.py`)",
        "",
        f"Measured on **{measured}** ({result['machine']['cores']} cores, "
        f"{result['machine']['cpu']}), on the separate database `{DATABASE}`. "
        "`python -m supportdesk.embedded exec -- .venv/bin/python -m bench.incident_bench` runs "
        "it again and rewrites this section.",
        "",
        "| metric | figure | target | met? |",
        "|---|---|---|---|",
        f"| one reminder sweep over {result['load']['incidents']:,} active incidents, all with "
        f"an update due ({sweep['reminders']:,} reminders made and handed to the workers) | "
        f"**{sweep['seconds']:.2f} s** | {TARGETS['sweep'][0]} | {met('sweep', sweep['seconds'])} |",
        f"| a sweep with nothing new | {sweep['idle_ms']:.1f} ms | — | — |",
        f"| POST a status update, incident linked to {result['tickets']:,} tickets across "
        f"{result['communities']} communities, {posts['posts']} posts, p50 / **p95** / max | "
        f"{posts['p50_seconds'] * 1000:.0f} ms / **{posts['p95_seconds'] * 1000:.0f} ms** / "
        f"{posts['max_seconds'] * 1000:.0f} ms | {TARGETS['post'][0]} | "
        f"{met('post', posts['p95_seconds'])} |",
        f"| one POST while the worker runs a fan-out on the same 2 cores | {fan['post_seconds'] * 1000:.0f} ms | — | — |",
        f"| the whole fan-out of one update, one worker (2 processes): "
        f"{fan['representatives_notified']} representatives notified, public replies through "
        f"`message_add` | {whole} | reported | — |",
        "",
        "The POST writes the update, the status, two timeline entries and the next due time, "
        "counts the linked tickets and hands the fan-out to a worker after commit; the worker "
        "notifies the representatives, makes one reply row per ticket (`INSERT … SELECT … ON "
        "CONFLICT DO NOTHING`) and posts the replies in batches of 100, each reply once, each "
        "through the tickets' own `message_add` (its events, SLA clocks and history included), "
        "which is what the fan-out's time is made of. The sweep makes reminder rows with one "
        "`INSERT … SELECT … ON CONFLICT DO NOTHING` per cause, so a second sweep adds nothing."
        + (f" The fan-out was handed out again {fan['handed_again']} time(s) by the sweeper's "
           "rule (batches cut short by the task time limit, or lost messages)." if fan["handed_again"] else ""),
    ]  # fmt: skip
    busy = [result.get("busy_before_sweep"), result.get("busy_before_fan_out")]
    if note := busy_note(busy, "each phase"):
        lines[4:4] = [note, ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.incident_bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--tickets", type=int, default=5_000)
    parser.add_argument("--communities", type=int, default=50)
    parser.add_argument("--posts", type=int, default=20)
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--fan-out-limit", type=float, default=1800.0)
    parser.add_argument("--json", type=Path, default=JSON)
    parser.add_argument("--doc", type=Path, default=DOC)
    args = parser.parse_args(argv)

    url = with_database(source_database_url(), DATABASE)
    redis_url = bench_redis_url(source_redis_url())
    created = ensure_database(url)
    print(f"{'created' if created else 'using'} {DATABASE}; migrating", flush=True)
    setup(url, redis_url)
    _flush_redis(redis_url)
    result: dict[str, Any] = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "tickets": args.tickets,
        "communities": args.communities,
    }
    try:
        reset()
        cast = ensure_cast(args.communities, args.tickets)
        result["load"] = load_incidents(args.incidents, cast["agent"].pk)
        print(f"  {result['load']}", flush=True)
        result["busy_before_sweep"] = wait_until_quiet(max_busy=0.2, timeout=60)
        print("sweeping once", flush=True)
        result["sweep"] = measure_sweep()
        print(f"  { ({k: v for k, v in result['sweep'].items() if k != 'plan'}) }", flush=True)
        _flush_redis(redis_url)
        reset()
        incident = linked_incident(cast["agent"], cast["community_ids"], args.tickets)
        print(f"posts: {args.posts} updates to {args.tickets:,} tickets, no worker", flush=True)
        result["posts"] = measure_posts(incident, cast["agent"], args.posts)
        print(f"  {result['posts']}", flush=True)
        _flush_redis(redis_url)
        result["busy_before_fan_out"] = wait_until_quiet(max_busy=0.2, timeout=60)
        print(f"fan-out: one update, a worker, at most {args.fan_out_limit:.0f} s", flush=True)
        result["fan_out"] = measure_fan_out(incident, cast["agent"], args.fan_out_limit)
        print(
            f"  { ({k: v for k, v in result['fan_out'].items() if k != 'log_tail'}) }", flush=True
        )
    finally:
        _flush_redis(redis_url)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2, default=str) + "\n")
    write_block("incidents", render(result), args.doc)
    print(f"wrote {args.json} and the incidents section of {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
