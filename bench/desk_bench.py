"""Measure the desk's two busiest pages over real HTTP, at 100k tickets.

    python -m bench.desk_bench [--duration 20] [--concurrency 4] [--json FILE]

Runs against the data `bench.load_tickets` loaded (run `make bench` once first; this
script loads it if it is missing). An agent's session is made in this process; gunicorn
(2 sync workers) serves the bench database on a free port of 127.0.0.1. For `--duration`
seconds each, `--concurrency` threads fetch:

- the queue page `GET /desk/` (all tickets, newest first, the first 50 rows), and
- ticket pages `GET /desk/tickets/<reference>/` of tickets drawn at random,

and report p50 / p95 latency and requests per second. The number of SQL queries each page
takes is counted in this process with Django's test client, for two queues of different
sizes and for tickets with few and with many messages: it must not change.

Writes its section of docs/benchmarks.md (bench/docs.py).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from bench.api_bench import Run, bench_redis_url, gunicorn, machine
from bench.docs import write_block
from bench.load_tickets import RESULTS_DIR, prepare_bench_database, source_redis_url

P95_TARGET_MS = 100.0
DEFAULT_JSON = RESULTS_DIR / "desk.json"


def _agent_session_cookie() -> tuple[str, str]:
    """(email, session id) of an agent signed in by this process."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    agent = get_user_model().objects.filter(is_staff=True, is_active=True).order_by("pk").first()
    if agent is None:
        raise SystemExit("No agent in the bench database; run `make bench` first.")
    client = Client()
    client.force_login(agent)
    return agent.email, client.cookies["sessionid"].value


def _query_counts() -> dict[str, int]:
    """Queries per page, for pages of different sizes: the counts must be equal."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.db.models import Count
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from tickets.models import Ticket

    agent = get_user_model().objects.filter(is_staff=True, is_active=True).order_by("pk").first()
    assert agent is not None
    client = Client()
    client.force_login(agent)
    by_messages = Ticket.objects.annotate(n=Count("messages")).order_by("n")
    few = by_messages.filter(n__gte=1).first()
    many = by_messages.last()
    assert few is not None
    assert many is not None
    pages = {
        "queue (all tickets)": "/desk/",
        "queue (awaiting approval)": "/desk/?queue=awaiting-approval",
        f"ticket with {few.n} message(s)": f"/desk/tickets/{few.reference}/",
        f"ticket with {many.n} messages": f"/desk/tickets/{many.reference}/",
    }
    counts = {}
    for label, path in pages.items():
        client.get(path)  # warm: sessions, caches
        with CaptureQueriesContext(connection) as captured:
            response = client.get(path)
        if response.status_code != 200:
            raise SystemExit(f"{path} answered {response.status_code}")
        counts[label] = len(captured)
    return counts


def _load(base: str, cookie: str, paths: list[str], concurrency: int, duration: float) -> Run:
    run = Run()
    lock = threading.Lock()
    stop_at = time.monotonic() + duration

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        local = Run()
        with requests.Session() as session:
            session.cookies.set("sessionid", cookie)
            session.get(f"{base}{paths[0]}", timeout=30)  # warm the connection path
            while time.monotonic() < stop_at:
                path = rng.choice(paths)
                t0 = time.perf_counter()
                try:
                    response = session.get(f"{base}{path}", timeout=30, allow_redirects=False)
                except requests.RequestException as exc:
                    local.record(
                        (time.perf_counter() - t0) * 1000, type(exc).__name__, False, str(exc)
                    )
                    continue
                ok = response.status_code == 200
                local.record((time.perf_counter() - t0) * 1000, str(response.status_code), ok,
                             "" if ok else response.text)  # fmt: skip
        with lock:
            run.merge(local)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    run.seconds = time.perf_counter() - started
    return run


def markdown(result: dict[str, Any]) -> str:
    def row(label: str, figures: dict[str, Any]) -> str:
        met = (
            "met" if figures["p95_ms"] <= P95_TARGET_MS and not figures["errors"] else "**not met**"
        )
        return (
            f"| {label} | {figures['p50_ms']:.1f} / **{figures['p95_ms']:.1f} ms** "
            f"({figures['per_second']} req/s, {figures['errors']} errors) | p95 ≤ {P95_TARGET_MS:.0f} ms | {met} |"
        )

    counts = result["queries"]
    constant = len(set(list(counts.values())[:2])) == 1 and len(set(list(counts.values())[2:])) == 1
    machine_info = result["machine"]
    return "\n".join(
        [
            "## Desk pages",
            "",
            f"`python -m bench.desk_bench` (inside `python -m supportdesk.embedded exec --`), measured "
            f"on **{result['measured_at']}**, {machine_info['cores']} cores, {result['tickets']:,} tickets: "
            f"an agent's session, gunicorn with {result['workers']} sync workers, {result['concurrency']} "
            f"client threads for {result['duration']:.0f} s per page; ticket pages drawn at random.",
            "",
            "| page | p50 / p95 | target | met? |",
            "|---|---|---|---|",
            row("queue `GET /desk/` (first 50 of all tickets)", result["queue"]),
            row("ticket page `GET /desk/tickets/<ref>/`", result["ticket"]),
            "",
            "SQL queries per page (counted in-process; they must not grow with the data): "
            + ", ".join(f"{label}: {n}" for label, n in counts.items())
            + (" — constant." if constant else " — **not constant**."),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.desk_bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON)
    parser.add_argument("--no-doc", action="store_true", help="do not touch docs/benchmarks.md")
    args = parser.parse_args(argv)

    prepare_bench_database()
    from tickets.models import Ticket

    tickets = Ticket.objects.count()
    if tickets < 1000:
        raise SystemExit("The bench database holds too few tickets; run `make bench` first.")
    references = [f"/desk/tickets/{Ticket(pk=pk).reference}/" for pk in
                  Ticket.objects.order_by("?").values_list("pk", flat=True)[:500]]  # fmt: skip
    queries = _query_counts()
    email, cookie = _agent_session_cookie()
    print(f"agent {email}; queries per page: {queries}", flush=True)

    redis_url = bench_redis_url(source_redis_url())
    with gunicorn(workers=args.workers, redis_url=redis_url,
                  log_path=RESULTS_DIR / "desk-gunicorn.log") as server:  # fmt: skip
        queue = _load(server.url, cookie, ["/desk/"], args.concurrency, args.duration)
        print(f"queue: {queue.summary()}", flush=True)
        ticket = _load(server.url, cookie, references, args.concurrency, args.duration)
        print(f"ticket: {ticket.summary()}", flush=True)

    result = {
        "measured_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "tickets": tickets,
        "workers": args.workers,
        "concurrency": args.concurrency,
        "duration": args.duration,
        "queries": queries,
        "queue": queue.summary(),
        "ticket": ticket.summary(),
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2))
    page = markdown(result)
    print("\n" + page)
    if not args.no_doc:
        write_block("desk", page)
    failed = queue.errors or ticket.errors
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
