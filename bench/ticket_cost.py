"""What one opened ticket costs, step by step, in one process: the figures behind "Where
the time goes" in docs/routing.md.

    python -m bench.ticket_cost [--tickets 40] [--batch 25] [--json FILE]

On the `supportdesk_bench` database (`python -m bench.load_tickets`), with routing set up
as `bench.routing_bench` sets it up and Redis database 1 as the broker (no worker reads it;
it is emptied at the end). Tickets are opened through `POST /api/v1/tickets/` (Django's
test client, so no HTTP server) as the communities' representatives, then every outbox
delivery they made is run here, by `core.outbox.delivery_run` as a worker would, followed
by the mail the acknowledgement queued (`tickets.mail.outbound.outbound_send`, to the
local-memory mail backend).

Two passes:

- **single**: each ticket is opened and all its deliveries run before the next is opened,
  so every delivery runs alone (a quiet desk);
- **batch**: `--batch` tickets are opened, then their deliveries run (those whose reaction
  names a batch handler are taken together, as a worker with a backlog takes them).

For each step: wall time, this process's CPU time (the Python), PostgreSQL's CPU time (the
backend serving this process, from /proc), and the number of queries, per ticket. The
after-commit hand-over to the broker (`core.outbox.enqueue`) is shown on its own line and
is also part of the POST. Celery's own cost per task in a worker (receiving, acking,
logging) is not counted here. Everything opened is deleted at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import json
import os
import random
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.api_bench import _flush_redis, bench_redis_url, callers, high_water_marks, ticket_body
from bench.api_bench import remove_created as remove_tickets
from bench.load_tickets import RESULTS_DIR, prepare_bench_database, source_redis_url
from supportdesk.embedded import celery_url

POST_STEP = "POST /api/v1/tickets/"
PUBLISH_STEP = "  of it: handing the deliveries to the broker"
MAIL_STEP = "mail.send (the acknowledgement)"
TAKEN_ALONG_STEP = "messages of deliveries a batch took along"


@dataclass
class Cost:
    wall: float = 0.0
    cpu: float = 0.0
    db_cpu: float = 0.0
    queries: int = 0

    def add(self, other: Cost) -> None:
        self.wall += other.wall
        self.cpu += other.cpu
        self.db_cpu += other.db_cpu
        self.queries += other.queries


@dataclass
class Meter:
    """Counts the queries of this process's connection and the CPU of its backend."""

    backend_pid: int = 0
    queries: int = 0
    costs: dict[str, Cost] = field(default_factory=dict)
    profiles: dict[str, cProfile.Profile] | None = None

    def start(self) -> None:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            self.backend_pid = cursor.fetchone()[0]
        connection.execute_wrappers.append(self._count)

    def _count(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any):
        self.queries += 1
        return execute(sql, params, many, context)

    def backend_cpu(self) -> float:
        try:
            fields = Path(f"/proc/{self.backend_pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        queries, wall, cpu, db = (
            self.queries, time.perf_counter(), time.process_time(), self.backend_cpu()
        )  # fmt: skip
        profile = None
        if self.profiles is not None:
            profile = self.profiles.setdefault(name, cProfile.Profile())
            profile.enable()
        try:
            yield
        finally:
            if profile is not None:
                profile.disable()
            cost = Cost(
                wall=time.perf_counter() - wall,
                cpu=time.process_time() - cpu,
                db_cpu=self.backend_cpu() - db,
                queries=self.queries - queries,
            )
            self.costs.setdefault(name, Cost()).add(cost)


def _step_name(handler: str) -> str:
    return handler.rsplit(".", 2)[-2] + "." + handler.rsplit(".", 1)[-1]


def open_tickets(meter: Meter | None, client: Any, creators: list[Any], count: int, rng: Any):
    ids = []
    for _ in range(count):
        caller = creators[rng.randrange(len(creators))]
        body = ticket_body(rng, caller.community)
        with meter.step(POST_STEP) if meter else contextlib.nullcontext():
            response = client.post(
                "/api/v1/tickets/", body, content_type="application/json",
                HTTP_AUTHORIZATION=f"Token {caller.token}",
            )  # fmt: skip
        assert response.status_code == 201, response.content[:500]
        ids.append(response.json()["id"])
    return ids


def run_deliveries(meter: Meter | None, ticket_ids: list[int]) -> None:
    """Run every pending delivery of these tickets' events, oldest first, then their mail."""
    from core.models import EventDelivery
    from core.outbox import delivery_run
    from tickets.mail.models import OutboundMail
    from tickets.mail.outbound import outbound_send

    pending = EventDelivery.objects.filter(
        state="pending", event__payload__ticket_id__in=ticket_ids
    ).order_by("pk")
    every = list(pending.values_list("pk", "handler"))
    handlers = list(dict.fromkeys(handler for _, handler in every))
    ran = set()
    for handler in handlers:
        while True:
            delivery_id = pending.filter(handler=handler).values_list("pk", flat=True).first()
            if delivery_id is None or delivery_id in ran:
                break  # all done, or one failed and waits for its retry
            with meter.step(_step_name(handler)) if meter else contextlib.nullcontext():
                delivery_run(delivery_id=delivery_id)
            ran.add(delivery_id)
    # Each delivery a batch took along still has its message, which finds it done.
    for delivery_id, _ in every:
        if delivery_id not in ran:
            with meter.step(TAKEN_ALONG_STEP) if meter else contextlib.nullcontext():
                delivery_run(delivery_id=delivery_id)
    mail_ids = OutboundMail.objects.filter(ticket_id__in=ticket_ids, status="queued").values_list(
        "pk", flat=True
    )
    for mail_id in list(mail_ids):
        with meter.step(MAIL_STEP) if meter else contextlib.nullcontext():
            outbound_send(mail_id=mail_id)


def table(costs: dict[str, Cost], tickets: int) -> list[dict[str, Any]]:
    rows = []
    for name, cost in costs.items():
        rows.append(
            {
                "step": name,
                "wall_ms": round(1000 * cost.wall / tickets, 2),
                "python_cpu_ms": round(1000 * cost.cpu / tickets, 2),
                "postgres_cpu_ms": round(1000 * cost.db_cpu / tickets, 2),
                "queries": round(cost.queries / tickets, 2),
            }
        )
    return rows


def render(title: str, rows: list[dict[str, Any]]) -> str:
    lines = [
        title,
        "",
        "| step, per ticket | wall | Python CPU | PostgreSQL CPU | queries |",
        "|---|---|---|---|---|",
    ]
    total = {"wall_ms": 0.0, "python_cpu_ms": 0.0, "postgres_cpu_ms": 0.0, "queries": 0.0}
    for row in rows:
        lines.append(
            f"| {row['step']} | {row['wall_ms']:.1f} ms | {row['python_cpu_ms']:.1f} ms | "
            f"{row['postgres_cpu_ms']:.1f} ms | {row['queries']:g} |"
        )
        if row["step"] != PUBLISH_STEP:
            for key in total:
                total[key] += row[key]
    lines.append(
        f"| **all steps** | {total['wall_ms']:.1f} ms | {total['python_cpu_ms']:.1f} ms | "
        f"{total['postgres_cpu_ms']:.1f} ms | {total['queries']:g} |"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ticket_cost", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--tickets", type=int, default=40, help="tickets of the single pass")
    parser.add_argument("--batch", type=int, default=25, help="tickets of the batch pass")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--json", type=Path, default=RESULTS_DIR / "ticket_cost.json")
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="write a cProfile file per step of the single pass into DIR")  # fmt: skip
    args = parser.parse_args(argv)

    redis_url = bench_redis_url(source_redis_url())
    os.environ["REDIS_URL"] = redis_url
    os.environ["CELERY_BROKER_URL"] = celery_url(redis_url)
    os.environ["ROUTING_MODEL_PATH"] = str(RESULTS_DIR / "no-routing-model.joblib")
    os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
    # One connection (one backend whose CPU time is read) for the whole run.
    os.environ["DATABASE_CONN_MAX_AGE"] = "3600"
    prepare_bench_database()
    from django.test import Client

    from bench.routing_bench import configure_routing
    from core import outbox

    configure_routing()
    _flush_redis(redis_url)
    marks = high_water_marks()
    _, creators = callers()
    client = Client()
    rng = random.Random(args.seed)
    meter = Meter(profiles={} if args.profile else None)
    enqueue = outbox.enqueue

    def timed_enqueue(*a: Any, **kw: Any) -> Any:
        with meter.step(PUBLISH_STEP):
            return enqueue(*a, **kw)

    result: dict[str, Any] = {}
    try:
        # Warm up: first-use caches (rules, templates, the broker's connection).
        for _ in range(3):
            run_deliveries(None, open_tickets(None, client, creators, 1, rng))
        outbox.enqueue = timed_enqueue
        meter.start()
        for _ in range(args.tickets):
            ids = open_tickets(meter, client, creators, 1, rng)
            run_deliveries(meter, ids)
        result["single"] = table(meter.costs, args.tickets)
        if args.profile and meter.profiles is not None:
            args.profile.mkdir(parents=True, exist_ok=True)
            for name, profile in meter.profiles.items():
                slug = "".join(c if c.isalnum() else "_" for c in name.strip())
                profile.dump_stats(args.profile / f"{slug}.prof")
            meter.profiles = None
        meter.costs = {}
        ids = open_tickets(meter, client, creators, args.batch, rng)
        run_deliveries(meter, ids)
        result["batch"] = table(meter.costs, args.batch)
    finally:
        outbox.enqueue = enqueue
        _flush_redis(redis_url)
        remove_tickets(marks)
    print(render(f"Each ticket alone ({args.tickets} tickets):", result["single"]))
    print()
    print(render(f"A backlog of {args.batch} tickets:", result["batch"]))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
