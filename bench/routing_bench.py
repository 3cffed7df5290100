"""Measure routing end to end: submit → assigned latency at a steady rate, and the rate the
router sustains at saturation.

    python -m bench.routing_bench [--rate 50] [--duration 60] [--backlog 1500]
                                  [--queues default,routing,slas,paging] [--json FILE]
                                  [--no-doc]

Runs on the `supportdesk_bench` database (`python -m bench.load_tickets` fills it; it is
migrated here too), with Redis database 1 as broker, like `bench.api_bench`, whose helpers
(gunicorn, percentiles, CPU accounting, clean-up) it reuses.

1. Routing is configured for the bench desk, idempotently: seed 000's five categories with
   their keyword rules and skills (the tables of `routing.demo`), and a routing profile for
   each of the 40 bench agents (ten per tier level, every skill, room for plenty of tickets,
   so that the figures measure routing rather than an empty queue).
2. gunicorn (2 sync workers) and two Celery worker processes (`-P solo`, the queues given,
   by default all of them, as `make run` and docker-compose run them) are started.
3. Steady phase: representatives of the 20 communities open tickets through
   `POST /api/v1/tickets/` at a fixed rate (open loop: a request is sent at its scheduled
   time whatever happened to the previous ones) for the duration. For each ticket,
   submit → assigned is the time from sending the request to the audit entry of routing's
   assignment (`TicketEvent` kind `assigned`, written in the routing transaction), both
   read from this machine's clock.
4. Saturation: with the workers stopped, a backlog of tickets is opened; two fresh workers
   are started and the rate at which routing decisions are made while the backlog drains
   is the router's sustained rate.
5. Everything the run created is deleted (tickets, their decisions, events), and the figures
   are written to bench/results/routing.json and into docs/benchmarks.md as the marked block
   `routing` (bench/docs.py), which bench/run_all.py keeps when it rewrites the page.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from bench.api_bench import (
    Caller,
    _busy_since,
    _cpu_times,
    _flush_redis,
    bench_redis_url,
    callers,
    gunicorn,
    high_water_marks,
    machine,
    percentile,
    remove_created,
    ticket_body,
    wait_until_quiet,
)
from bench.docs import DOC, write_block
from bench.load_tickets import (
    BENCH_DATABASE,
    RESULTS_DIR,
    ROOT,
    SETTINGS_MODULE,
    agent_email,
    prepare_bench_database,
    source_redis_url,
)
from supportdesk.embedded import celery_url

TARGET_P99_MS = 1000.0
BENCH_CAPACITY = 5000
AGENTS = 40


# ---------------------------------------------------------------- routing for the bench desk


def configure_routing() -> dict[str, int]:
    """Seed 000's categories, rules and skills, and a profile per bench agent (idempotent)."""
    from core.models import User
    from routing import demo
    from routing.models import AgentProfile, CategoryRouting, RoutingRule, Skill
    from routing.services import config
    from tickets.models import Category

    skills = {
        slug: Skill.objects.filter(slug=slug).first() or config.skill_create(name=name, slug=slug)
        for name, slug in demo.SKILLS
    }
    for position, (name, slug, tier, skill, keywords) in enumerate(demo.CATEGORIES, start=1):
        category = Category.objects.filter(slug=slug).first()
        if category is None:
            category = config.routing_category_create(
                name=name, slug=slug, default_tier=tier, required_skill=skills[skill]
            )
        elif not CategoryRouting.objects.filter(category=category).exists():
            config.category_routing_set(category=category, required_skill=skills[skill])
        if not RoutingRule.objects.filter(name=f"{name} keywords").exists():
            config.rule_create(
                name=f"{name} keywords", position=position * 10, keywords=keywords,
                set_category=category,
            )  # fmt: skip
    created = 0
    for n in range(1, AGENTS + 1):
        user = User.objects.get(email=agent_email(n))
        profile = AgentProfile.objects.filter(user=user).first()
        if profile is None:
            config.agent_profile_create(
                user=user,
                tier_level=(n - 1) % 4 + 1,
                skills=list(skills.values()),
                max_open_tickets=BENCH_CAPACITY,
            )
            created += 1
        elif profile.max_open_tickets != BENCH_CAPACITY or profile.status != "available":
            config.agent_profile_update(
                profile=profile, data={"max_open_tickets": BENCH_CAPACITY, "status": "available"}
            )
    return {"profiles_created": created, "rules": RoutingRule.objects.filter(active=True).count()}


# ---------------------------------------------------------------- Celery workers


@contextlib.contextmanager
def celery_workers(
    layout: list[list[str]], *, redis_url: str, log_dir: Path, background_nice: int = 0
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """One `celery worker -P solo` per entry of `layout` (its queues) on the bench database
    and broker, those without the routing queue at `background_nice`; stopped at the end."""
    count = len(layout)
    env = dict(os.environ)  # DATABASE_URL already names the bench database
    env.update(
        DJANGO_SETTINGS_MODULE=SETTINGS_MODULE,
        DEBUG="false",
        REDIS_URL=redis_url,
        CELERY_BROKER_URL=celery_url(redis_url),
        LOG_LEVEL="WARNING",
    )
    log_dir.mkdir(parents=True, exist_ok=True)
    workers = []
    stamp = f"{os.getpid()}-{time.monotonic_ns()}"
    for n in range(count):
        log = (log_dir / f"routing-worker-{n}.log").open("wb")
        queues = layout[n]
        nice = (
            ["nice", "-n", str(background_nice)]
            if background_nice and "routing" not in queues
            else []
        )
        command = [
            *nice, sys.executable, "-m", "celery", "-A", "supportdesk", "worker", "-P", "solo",
            "-Q", ",".join(queues), "-n", f"bench-{n}-{stamp}@%h", "--loglevel", "WARNING",
            "--without-mingle", "--without-gossip",
        ]  # fmt: skip
        workers.append(subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log))
    try:
        from supportdesk.celery import live_workers

        deadline = time.monotonic() + 60
        while sum(1 for w in live_workers() if f"-{stamp}@" in w) < count:
            if any(w.poll() is not None for w in workers) or time.monotonic() > deadline:
                raise SystemExit(f"the Celery workers did not start; see {log_dir}")
            time.sleep(0.2)
        print(f"{count} Celery workers on {' | '.join(','.join(q) for q in layout)}", flush=True)
        yield workers
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()


# ---------------------------------------------------------------- load


@dataclass
class Sent:
    at: float  # wall clock (time.time()) when the request was due (open loop)
    http_ms: float
    status: int
    ticket_id: int | None
    left: float = 0.0  # wall clock when it actually left the client


def open_loop(
    base: str,
    creators: list[Caller],
    *,
    rate: float,
    seconds: float,
    seed: int,
    threads: int | None = None,
    total: int | None = None,
) -> list[Sent]:
    """POST tickets at `rate` per second for `seconds` (or `total` of them), each at its
    scheduled time."""
    total = int(rate * seconds) if total is None else total
    local = threading.local()
    sent: list[Sent] = []
    lock = threading.Lock()

    def post(n: int, scheduled: float | None) -> None:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        caller = creators[n % len(creators)]
        body = ticket_body(random.Random(seed * 100_003 + n), caller.community or "")
        # Open loop: a request counts from the moment it was due, so time it waited for a
        # free client thread is not hidden.
        left = time.time()
        at = scheduled if scheduled is not None else left
        t0 = time.perf_counter()
        try:
            response = session.post(
                f"{base}/api/v1/tickets/", json=body, timeout=30,
                headers={"Authorization": f"Token {caller.token}"},
            )  # fmt: skip
            status = response.status_code
            ticket_id = response.json().get("id") if status == 201 else None
        except requests.RequestException:
            status, ticket_id = 0, None
        record = Sent(at, (time.perf_counter() - t0) * 1000, status, ticket_id, left)
        with lock:
            sent.append(record)

    # Enough threads that a slow answer (seconds, on a saturated machine) seldom delays the
    # next request's departure; when it does, the wait counts in its latency (above).
    with ThreadPoolExecutor(max_workers=threads or max(8, min(256, int(rate * 4)))) as pool:
        start = time.perf_counter() + 0.1
        wall_start = time.time() + (start - time.perf_counter())
        for n in range(total):
            finite = rate != float("inf")
            delay = start + n / rate - time.perf_counter() if finite else 0
            if delay > 0:
                time.sleep(delay)
            pool.submit(post, n, wall_start + n / rate if finite else None)
    return sent


def burst(base: str, creators: list[Caller], *, count: int, seed: int) -> list[Sent]:
    """POST `count` tickets as fast as 8 threads can."""
    return open_loop(
        base, creators, rate=float("inf"), seconds=0, seed=seed, threads=8, total=count
    )


def wait_routed(ticket_ids: list[int], *, timeout: float) -> int:
    from routing.models import RoutingDecision

    deadline = time.monotonic() + timeout
    done = 0
    while time.monotonic() < deadline:
        done = (
            RoutingDecision.objects.filter(ticket_id__in=ticket_ids, trigger="opened")
            .values("ticket_id")
            .distinct()
            .count()
        )
        if done >= len(ticket_ids):
            break
        time.sleep(0.5)
    return done


# ---------------------------------------------------------------- figures


def _ms_summary(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"count": 0, "p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None}
    return {
        "count": len(values),
        "p50_ms": round(percentile(values, 50), 1),
        "p95_ms": round(percentile(values, 95), 1),
        "p99_ms": round(percentile(values, 99), 1),
        "max_ms": round(max(values), 1),
    }


def steady_figures(sent: list[Sent], seconds: float) -> dict[str, Any]:
    from django.db.models import Min

    from routing.models import RoutingDecision
    from tickets.models import TicketEvent

    ok = [s for s in sent if s.ticket_id is not None]
    ids = [s.ticket_id for s in ok if s.ticket_id is not None]
    assigned = dict(
        TicketEvent.objects.filter(ticket_id__in=ids, kind="assigned", actor__isnull=True)
        .values("ticket_id")
        .annotate(at=Min("created_at"))
        .values_list("ticket_id", "at")
    )
    decisions = list(
        RoutingDecision.objects.filter(ticket_id__in=ids, trigger="opened").values_list(
            "ticket_id", "created_at", "outcome", "duration_ms", "tier"
        )
    )
    decided = {ticket_id: at for ticket_id, at, _, _, _ in decisions}
    to_assigned = [
        (assigned[s.ticket_id].timestamp() - s.at) * 1000 for s in ok if s.ticket_id in assigned
    ]
    to_decided = [
        (decided[s.ticket_id].timestamp() - s.at) * 1000 for s in ok if s.ticket_id in decided
    ]
    outcomes: dict[str, int] = {}
    tiers: dict[str, int] = {}
    for _, _, outcome, _, tier in decisions:
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        tiers[tier] = tiers.get(tier, 0) + 1
    return {
        "sent": len(sent),
        "created": len(ok),
        "errors": len(sent) - len(ok),
        # Over the span in which the requests actually left the client.
        "achieved_rate": round(
            len(sent) / max(max(x.left for x in sent) - min(x.left for x in sent), seconds), 1
        )
        if sent
        else 0.0,
        "client_wait": _ms_summary([(x.left - x.at) * 1000 for x in sent]),
        "http_create": _ms_summary([s.http_ms for s in ok]),
        "submit_to_assigned": _ms_summary(to_assigned),
        "submit_to_decision": _ms_summary(to_decided),
        "routing_in_worker": _ms_summary([d for _, _, _, d, _ in decisions]),
        "outcomes": outcomes,
        "tiers": tiers,
    }


def saturation_figures(ticket_ids: list[int]) -> dict[str, Any]:
    from routing.models import RoutingDecision

    moments = sorted(
        at.timestamp()
        for at in RoutingDecision.objects.filter(
            ticket_id__in=ticket_ids, trigger="opened"
        ).values_list("created_at", flat=True)
    )
    if len(moments) < 2:
        return {"routed": len(moments), "per_second": None, "seconds": None}
    span = moments[-1] - moments[0]
    return {
        "routed": len(moments),
        "seconds": round(span, 2),
        "per_second": round((len(moments) - 1) / span, 1) if span else None,
    }


# ---------------------------------------------------------------- the page


def _layout(s: dict[str, Any]) -> str:
    layout = s.get("layout") or [s["queues"]] * s["celery_workers"]
    if all(group == layout[0] for group in layout):
        return f"`{','.join(layout[0])}` (each)"
    nice = s.get("background_nice") or 0
    groups = [
        f"`{','.join(g)}`" + (f" (nice {nice})" if nice and "routing" not in g else "")
        for g in layout
    ]
    return " and ".join(groups)


def markdown(result: dict[str, Any]) -> str:
    steady = result["steady"]
    sat = result["saturation"]
    m = result["machine"]
    s = result["settings"]
    p99 = steady["submit_to_assigned"]["p99_ms"]
    met = "n/a" if p99 is None else ("met" if p99 < TARGET_P99_MS else "**not met**")
    lines = [
        "## Routing (`bench/routing_bench.py`)",
        "",
        "Written by `python -m supportdesk.embedded exec -- .venv/bin/python -m "
        "bench.routing_bench` (see its `--help`). Never part of `make test`.",
        "",
        "### What runs",
        "",
        f"- the `{BENCH_DATABASE}` database ({result['tickets']:,} tickets before the run), "
        f"{result['routing']['rules']} active routing rules (seed 000's categories), 40 agents "
        "with routing profiles (ten per tier level, every skill)",
        f"- gunicorn with {s['gunicorn_workers']} sync workers, {s['celery_workers']} Celery "
        f"worker processes (`-P solo`) on the queues {_layout(s)}; no beat",
        f"- steady phase: `POST /api/v1/tickets/` at {s['rate']:g} per second for "
        f"{s['duration']:g} s, open loop, from the representatives of 20 communities",
        f"- saturation: {s['backlog']} tickets opened with the workers stopped, then drained "
        "by two fresh workers",
        "",
        "### Machine",
        "",
        f"- measured on **{result['measured_at']}**",
        f"- {m['cores']} cores ({m['cpu']}), {m['memory_gb']} GB RAM, {m['os']}, "
        f"Python {m['python']}",
        "- the HTTP client, gunicorn, the workers, PostgreSQL and Redis all share this machine",
        "",
        "### Results",
        "",
        "| metric | figure | target | met? |",
        "|---|---|---|---|",
        f"| tickets opened in the steady phase | {steady['created']:,} of {steady['sent']:,} "
        f"({steady['achieved_rate']:g}/s sent, {steady['errors']} errors) | "
        f"{s['rate']:g}/s, 0 errors | {'met' if not steady['errors'] else '**not met**'} |",
        "| submit → assigned, p50 / p95 / **p99** | "
        f"{_f(steady['submit_to_assigned'], 'p50_ms')} / {_f(steady['submit_to_assigned'], 'p95_ms')}"
        f" / **{_f(steady['submit_to_assigned'], 'p99_ms')}** "
        f"({steady['submit_to_assigned']['count']:,} assigned) | p99 < 1 s | {met} |",
        f"| submit → routing decision, p50 / p99 | {_f(steady['submit_to_decision'], 'p50_ms')} / "
        f"{_f(steady['submit_to_decision'], 'p99_ms')} | | |",
        f"| waiting in the client for a free thread, p50 / p99 | "
        f"{_f(steady['client_wait'], 'p50_ms')} / {_f(steady['client_wait'], 'p99_ms')} | | |",
        f"| `POST /api/v1/tickets/` latency, p50 / p99 | {_f(steady['http_create'], 'p50_ms')} / "
        f"{_f(steady['http_create'], 'p99_ms')} | | |",
        f"| routing inside the worker (the decision's `duration_ms`), p50 / p99 | "
        f"{_f(steady['routing_in_worker'], 'p50_ms')} / {_f(steady['routing_in_worker'], 'p99_ms')} | | |",
        f"| router rate at saturation (backlog of {sat['routed']:,} drained by 2 workers) | "
        f"**{sat['per_second']} tickets/s** ({sat['seconds']} s) | ≥ {s['rate']:g}/s | "
        f"{'met' if (sat['per_second'] or 0) >= s['rate'] else '**not met**'} |",
        "",
        f"Outcomes in the steady phase: {_counts(steady['outcomes'])}; tiers: "
        f"{_counts(steady['tiers'])}. The machine was {_pct(result.get('busy_steady'))} busy "
        "during the steady phase.",
        "",
        "Submit → assigned runs from the moment the request was due (open loop: a wait for a free client thread counts) to the time "
        "stamped on routing's assignment in the audit trail (both from this machine's clock); "
        "it includes the HTTP request, the commit, the hand-over to Redis, the queue wait and "
        "the routing transaction. Percentiles are nearest-rank.",
        "",
    ]
    return "\n".join(lines)


def _f(summary: dict[str, Any], key: str) -> str:
    value = summary.get(key)
    return "n/a" if value is None else f"{value:,.0f} ms"


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items())) or "none"


def _pct(value: float | None) -> str:
    return "?" if value is None else f"{value:.0%}"


# ---------------------------------------------------------------- the run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.routing_bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--rate", type=float, default=50.0, help="tickets per second")
    parser.add_argument("--duration", type=float, default=60.0, help="steady phase, seconds")
    parser.add_argument("--backlog", type=int, default=1500, help="saturation backlog")
    parser.add_argument("--gunicorn-workers", type=int, default=2)
    parser.add_argument("--celery-workers", type=int, default=2)
    parser.add_argument(
        "--queues",
        default="default,routing,slas,paging",
        help="the queues the Celery workers consume; with ';', one list per "
        "worker (then --celery-workers is their number)",
    )
    parser.add_argument("--background-nice", type=int, default=0,
                        help="niceness of the workers that do not consume the routing queue")  # fmt: skip
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--max-busy", type=float, default=0.25)
    parser.add_argument("--quiet-timeout", type=float, default=300.0)
    parser.add_argument("--json", type=Path, default=RESULTS_DIR / "routing.json")
    parser.add_argument("--no-doc", action="store_true", help="print, leave docs/benchmarks.md")
    args = parser.parse_args(argv)
    groups = [[q.strip() for q in g.split(",") if q.strip()] for g in args.queues.split(";")]
    layout = groups if len(groups) > 1 else groups * args.celery_workers
    queues = sorted({q for group in layout for q in group})

    redis_url = bench_redis_url(source_redis_url())
    os.environ["REDIS_URL"] = redis_url
    os.environ["CELERY_BROKER_URL"] = celery_url(redis_url)
    os.environ["ROUTING_MODEL_PATH"] = str(RESULTS_DIR / "no-routing-model.joblib")
    prepare_bench_database()
    from django.db import connection

    from tickets.models import Ticket

    tickets = Ticket.objects.count()
    if not tickets:
        raise SystemExit(f"{BENCH_DATABASE} holds no tickets: run `python -m bench.load_tickets`.")
    routing_setup = configure_routing()
    _flush_redis(redis_url)
    marks = high_water_marks()
    _, creators = callers()
    connection.close()
    busy_before = wait_until_quiet(max_busy=args.max_busy, timeout=args.quiet_timeout)
    log_dir = RESULTS_DIR / "routing-logs"
    result: dict[str, Any] = {}
    try:
        with gunicorn(workers=args.gunicorn_workers, redis_url=redis_url,
                      log_path=log_dir / "gunicorn.log") as server:  # fmt: skip
            with celery_workers(
                layout, redis_url=redis_url, log_dir=log_dir, background_nice=args.background_nice
            ):
                warm = open_loop(server.url, creators, rate=20, seconds=2, seed=0)
                wait_routed([s.ticket_id for s in warm if s.ticket_id], timeout=60)
                print(f"steady phase: {args.rate:g}/s for {args.duration:g} s", flush=True)
                cpu_start = _cpu_times()
                sent = open_loop(
                    server.url, creators, rate=args.rate, seconds=args.duration, seed=args.seed
                )
                busy_steady = _busy_since(cpu_start)
                ids = [s.ticket_id for s in sent if s.ticket_id]
                routed = wait_routed(ids, timeout=300)
                print(f"routed {routed} of {len(ids)}", flush=True)
                steady = steady_figures(sent, args.duration)
            print(f"saturation: a backlog of {args.backlog} with the workers stopped", flush=True)
            backlog = burst(server.url, creators, count=args.backlog, seed=args.seed + 1)
            backlog_ids = [s.ticket_id for s in backlog if s.ticket_id]
            with celery_workers(
                layout, redis_url=redis_url, log_dir=log_dir, background_nice=args.background_nice
            ):
                wait_routed(backlog_ids, timeout=600)
            saturation = saturation_figures(backlog_ids)
        import django

        result = {
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "tickets": tickets,
            "routing": routing_setup,
            "machine": {**machine(), "busy_before": busy_before, "django": django.get_version()},
            "busy_steady": busy_steady,
            "settings": {
                "rate": args.rate,
                "duration": args.duration,
                "backlog": args.backlog,
                "gunicorn_workers": args.gunicorn_workers,
                "celery_workers": len(layout),
                "queues": queues,
                "layout": layout,
                "background_nice": args.background_nice,
            },  # fmt: skip
            "steady": steady,
            "saturation": saturation,
        }
    finally:
        _flush_redis(redis_url)
        removed = remove_created(marks)
        print(f"removed the {removed} tickets this run opened", flush=True)
    page = markdown(result)
    print()
    print(page)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2, default=str) + "\n")
    if not args.no_doc:
        write_block("routing", page)
        print(f"wrote the routing block of {DOC}")
    p99 = result["steady"]["submit_to_assigned"]["p99_ms"]
    return 0 if p99 is not None and p99 < TARGET_P99_MS and not result["steady"]["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
