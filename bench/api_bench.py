"""Measure the tickets API over real HTTP, against the data `bench.load_tickets` loaded.

    python -m bench.api_bench [--duration 30] [--concurrency 8] [--list-requests 200]
                              [--json FILE]

1. The SQL behind `GET /api/v1/tickets/` (first page) is captured from a Django test
   client call in this process (CaptureQueriesContext), as an agent (staff), as the
   representatives of the largest and of the smallest community, and as a member who is
   no representative (who sees only their own requests), then timed with psycopg directly,
   as many times as the HTTP requests below.
2. gunicorn (2 sync workers, `supportdesk.wsgi`, settings `supportdesk.settings.local`
   with DEBUG=false, throttles raised through THROTTLE_USER / THROTTLE_ANON) is started on
   a free port of 127.0.0.1 against the bench database, and stopped at the end.
3. The same list pages are fetched over HTTP one after another: latency without contention.
4. `POST /api/v1/tickets/` as representatives (token auth, JSON), from `--concurrency`
   threads for `--duration` seconds: requests per second and latency under load.

Each thread has its own requests.Session. Every non-2xx response or transport error counts
as an error. The web processes use Redis database 1 of the configured Redis server for
their cache and Celery broker; it is emptied before and after, so the routing messages that
ticket creation publishes never reach a development worker. No Celery worker is started:
creating a ticket must not depend on one.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests

from bench.load_tickets import (
    BENCH_DATABASE,
    COMMUNITIES,
    RESULTS_DIR,
    ROOT,
    SETTINGS_MODULE,
    SEVERITIES,
    agent_email,
    bench_database_url,
    community_slug,
    pick,
    representative_email,
    setup_django,
    source_redis_url,
    text,
)
from supportdesk.embedded import celery_url

BENCH_REDIS_DB = 1
LIST_PATH = "/api/v1/tickets/"
# High enough never to throttle a benchmark; DRF reads "number/period".
UNTHROTTLED = "100000000/min"
READY_TIMEOUT = 60.0


# ---------------------------------------------------------------- figures


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile; `values` need not be sorted."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(min(rank, len(ordered))) - 1]


@dataclass
class Run:
    """What a series of requests (or of queries) gave."""

    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)

    def record(self, latency_ms: float, status: str, ok: bool, detail: str = "") -> None:
        self.requests += 1
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if ok:
            self.latencies_ms.append(latency_ms)
        else:
            self.errors += 1
            if len(self.error_samples) < 5:
                self.error_samples.append(f"{status}: {detail[:300]}")

    def merge(self, other: Run) -> None:
        self.requests += other.requests
        self.errors += other.errors
        self.latencies_ms += other.latencies_ms
        for status, n in other.statuses.items():
            self.statuses[status] = self.statuses.get(status, 0) + n
        self.error_samples += other.error_samples[: max(0, 5 - len(self.error_samples))]

    def summary(self) -> dict[str, Any]:
        ok = self.requests - self.errors
        return {
            "requests": self.requests,
            "ok": ok,
            "errors": self.errors,
            "statuses": self.statuses,
            "error_samples": self.error_samples,
            "seconds": round(self.seconds, 2),
            "per_second": round(ok / self.seconds, 1) if self.seconds else None,
            "p50_ms": round(percentile(self.latencies_ms, 50), 2),
            "p95_ms": round(percentile(self.latencies_ms, 95), 2),
            "p99_ms": round(percentile(self.latencies_ms, 99), 2),
            "max_ms": round(max(self.latencies_ms, default=float("nan")), 2),
        }


# ---------------------------------------------------------------- who, and which SQL


def bench_redis_url(url: str) -> str:
    """The same Redis server, database BENCH_REDIS_DB."""
    if url.startswith("unix://"):
        # urlunsplit would drop the empty host of unix:///path: edit the query by hand.
        path, _, query = url.partition("?")
        options = dict(parse_qsl(query))
        options["db"] = str(BENCH_REDIS_DB)
        return f"{path}?{urlencode(options)}"
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{BENCH_REDIS_DB}"))


@dataclass(frozen=True)
class Caller:
    email: str
    token: str
    community: str | None = None  # slug, for representatives
    tickets_visible: int = 0


def _caller(email: str, community: str | None = None) -> Caller:
    from rest_framework.authtoken.models import Token

    from core.models import User
    from tickets.selectors import ticket_scope

    user = User.objects.filter(email=email).first()
    if user is None:
        raise SystemExit(f"{email} is missing: run `python -m bench.load_tickets` first.")
    token, _ = Token.objects.get_or_create(user=user)
    return Caller(email, token.key, community, ticket_scope(user).count())


def callers() -> tuple[dict[str, Caller], list[Caller]]:
    """({agent, rep_largest, rep_smallest, member}, every community's first representative)."""
    from django.db.models import Count

    from tickets.models import Ticket

    slugs = [community_slug(i) for i in range(len(COMMUNITIES))]
    sizes = {
        row["community__slug"]: row["n"]
        for row in Ticket.objects.values("community__slug").annotate(n=Count("id"))
    }
    by_size = sorted(slugs, key=lambda slug: sizes.get(slug, 0), reverse=True)
    number = {slug: i for i, slug in enumerate(slugs, start=1)}
    listed = {
        "agent": _caller(agent_email(1)),
        "rep_largest": _caller(representative_email(number[by_size[0]]), by_size[0]),
        "rep_smallest": _caller(representative_email(number[by_size[-1]]), by_size[-1]),
    }
    listed["member"] = _caller(typical_member())
    creators = [_caller(representative_email(number[slug]), slug) for slug in slugs]
    return listed, creators


def typical_member() -> str:
    """A member who is no representative, with the median number of requests of their own."""
    from django.db.models import Count

    from communities.models import Membership
    from core.models import User

    members = Membership.objects.filter(role="member").values("user_id")
    ranked = list(
        User.objects.filter(pk__in=members, email__startswith="member")
        .annotate(n=Count("requested_tickets"))
        .order_by("n", "email")
        .values_list("email", flat=True)
    )
    if not ranked:
        raise SystemExit("No members in the bench data: run `python -m bench.load_tickets`.")
    return ranked[len(ranked) // 2]


def capture(caller: Caller, method: str = "get", body: dict[str, Any] | None = None) -> list[str]:
    """The SQL one request to the tickets endpoint runs, captured from a test-client call."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(headers={"authorization": f"Token {caller.token}"}, SERVER_NAME="localhost")

    def call() -> Any:
        if method == "post":
            return client.post(LIST_PATH, data=body, content_type="application/json")
        return client.get(LIST_PATH)

    call()  # the first call of a process pays for imports and caches
    with CaptureQueriesContext(connection) as queries:
        response = call()
    if response.status_code >= 300:
        raise SystemExit(f"{method.upper()} {LIST_PATH} as {caller.email}: {response.status_code}")
    return [q["sql"] for q in queries.captured_queries]


def list_query(statements: list[str]) -> str:
    """The page query: the one that reads tickets (the others authenticate)."""
    reading = [s for s in statements if 'FROM "tickets_ticket"' in s]
    if not reading:
        raise SystemExit("The list endpoint ran no query on tickets_ticket?")
    return max(reading, key=len)


def time_sql(url: str, statements: list[str], repetitions: int) -> Run:
    """Run `statements` back to back `repetitions` times with psycopg, fetching every row.

    Like Django's client-side-binding cursors, nothing is prepared server side.
    """
    import psycopg

    run = Run()
    with psycopg.connect(url, autocommit=True, prepare_threshold=None) as conn:
        for _ in range(5):
            for statement in statements:
                conn.execute(statement).fetchall()
        started = time.perf_counter()
        for _ in range(repetitions):
            t0 = time.perf_counter()
            for statement in statements:
                conn.execute(statement).fetchall()
            run.record((time.perf_counter() - t0) * 1000, "ok", ok=True)
        run.seconds = time.perf_counter() - started
    return run


def explain(url: str, statement: str) -> str:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(f"EXPLAIN (ANALYZE, BUFFERS) {statement}").fetchall()
    return "\n".join(row[0] for row in rows)


def high_water_marks() -> dict[str, int]:
    """The highest ids before the run: everything above was made by the benchmark."""
    from django.db.models import Max

    from core.models import Event
    from tickets.models import Ticket

    return {
        "ticket": Ticket.objects.aggregate(m=Max("id"))["m"] or 0,
        "event": Event.objects.aggregate(m=Max("id"))["m"] or 0,
    }


def remove_created(marks: dict[str, int]) -> int:
    """Delete what the create phase wrote (tickets with their messages, audit events and
    history, and the outbox events), so that every run measures the same data."""
    from django.db import transaction

    from core.models import Event
    from tickets.models import Message, Ticket

    with transaction.atomic():
        created = Ticket.objects.filter(pk__gt=marks["ticket"])
        count = created.count()
        created.delete()  # cascades to messages, audit events, attachments
        # The history rows, those of the creation and those the deletion just added.
        Ticket.history.filter(id__gt=marks["ticket"]).delete()
        Message.history.filter(ticket_id__gt=marks["ticket"]).delete()
        Event.objects.filter(pk__gt=marks["event"]).delete()  # and their deliveries
    return count


# ---------------------------------------------------------------- the web server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class Server:
    url: str
    pid: int

    def worker_pids(self) -> list[int]:
        return _children(self.pid)


@contextlib.contextmanager
def gunicorn(
    *,
    workers: int,
    redis_url: str,
    log_path: Path,
    timeout: int = 60,
    ready_timeout: float = READY_TIMEOUT,
) -> Iterator[Server]:
    """Run gunicorn on the bench database; yield where it listens; stop it at the end.
    `timeout`: gunicorn's worker timeout; `ready_timeout`: how long it may take to answer."""
    port = free_port()
    env = dict(os.environ)  # DATABASE_URL already names the bench database (setup_django)
    env.update(
        DJANGO_SETTINGS_MODULE=SETTINGS_MODULE,
        DEBUG="false",
        REDIS_URL=redis_url,
        CELERY_BROKER_URL=celery_url(redis_url),
        THROTTLE_USER=UNTHROTTLED,
        THROTTLE_ANON=UNTHROTTLED,
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    command = [
        sys.executable, "-m", "gunicorn", "supportdesk.wsgi:application",
        "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
        "--timeout", str(timeout), "--graceful-timeout", "10", "--log-level", "warning",
        "--no-control-socket",
    ]  # fmt: skip
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + ready_timeout
        while True:
            if process.poll() is not None:
                raise SystemExit(f"gunicorn exited ({process.returncode}); see {log_path}")
            try:
                if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"gunicorn did not answer within {ready_timeout} s; see {log_path}"
                )
            time.sleep(0.2)
        print(f"gunicorn ({workers} workers, pid {process.pid}) on {base}", flush=True)
        yield Server(base, process.pid)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _session(caller: Caller) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Token {caller.token}"
    return session


def _call(run: Run, send: Callable[..., requests.Response], *args: Any, **kwargs: Any) -> None:
    t0 = time.perf_counter()
    try:
        response = send(*args, timeout=30, **kwargs)
    except requests.RequestException as exc:
        run.record((time.perf_counter() - t0) * 1000, type(exc).__name__, ok=False, detail=str(exc))
        return
    latency = (time.perf_counter() - t0) * 1000
    ok = 200 <= response.status_code < 300
    run.record(latency, str(response.status_code), ok, "" if ok else response.text)


def list_series(base: str, caller: Caller, repetitions: int) -> Run:
    """GET the first page `repetitions` times, one after another."""
    run = Run()
    with _session(caller) as session:
        for _ in range(10):
            session.get(f"{base}{LIST_PATH}", timeout=30)
        started = time.perf_counter()
        for _ in range(repetitions):
            _call(run, session.get, f"{base}{LIST_PATH}")
        run.seconds = time.perf_counter() - started
    return run


def ticket_body(rng: random.Random, community: str) -> dict[str, Any]:
    kind, subject, description = text(rng)
    return {
        "community": community,
        "subject": subject,
        "description": description,
        "kind": kind,
        "severity": pick(rng, SEVERITIES),
    }


def create_load(
    base: str, creators: list[Caller], *, concurrency: int, seconds: float, seed: int
) -> Run:
    """POST tickets from `concurrency` threads until `seconds` have passed."""

    def worker(n: int, deadline: float) -> Run:
        rng = random.Random(seed + n)
        caller = creators[n % len(creators)]
        assert caller.community is not None
        run = Run()
        with _session(caller) as session:
            while time.perf_counter() < deadline:
                body = ticket_body(rng, caller.community)
                _call(run, session.post, f"{base}{LIST_PATH}", json=body)
        return run

    total = Run()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        started = time.perf_counter()
        deadline = started + seconds
        for run in pool.map(worker, range(concurrency), [deadline] * concurrency):
            total.merge(run)
        total.seconds = time.perf_counter() - started
    return total


# ---------------------------------------------------------------- the whole run


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory_gb = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": memory_gb,
        "python": platform.python_version(),
        "os": platform.platform(terse=True),
    }


def _cpu_times() -> tuple[int, int] | None:
    """(busy, total) clock ticks of the whole machine since boot, from /proc/stat."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return None
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def _busy_since(start: tuple[int, int] | None) -> float | None:
    end = _cpu_times()
    if start is None or end is None or end[1] == start[1]:
        return None
    return (end[0] - start[0]) / (end[1] - start[1])


def _process_cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes (utime and stime of /proc/PID/stat)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except (OSError, ValueError):
        return []


def wait_until_quiet(*, max_busy: float, timeout: float) -> float | None:
    """Wait (up to `timeout` s) until other work leaves the CPUs mostly idle, since the
    benchmark's figures are only comparable on an otherwise idle machine. Return the busy
    share of the last 3 s window (None where /proc/stat is unavailable)."""
    deadline = time.monotonic() + timeout
    while True:
        start = _cpu_times()
        time.sleep(3)
        busy = _busy_since(start)
        if busy is None or busy <= max_busy:
            return busy
        if time.monotonic() > deadline:
            print(f"warning: the machine is still {busy:.0%} busy; measuring anyway", flush=True)
            return busy
        print(f"the machine is {busy:.0%} busy with other work; waiting for it to calm down",
              flush=True)  # fmt: skip


def _flush_redis(url: str) -> None:
    import redis

    with contextlib.suppress(redis.RedisError, OSError):
        redis.Redis.from_url(url, socket_connect_timeout=2).flushdb()


@dataclass
class CpuShare:
    """Where the CPU time of a phase went, in cores (2.0 = both cores of a 2-core machine)."""

    machine: float | None
    client: float
    web: float
    database: float | None

    def summary(self) -> dict[str, float | None]:
        known = self.client + self.web + (self.database or 0.0)
        rest = None if self.machine is None else max(0.0, self.machine - known)
        return {
            "machine_cores_busy": _round(self.machine),
            "client_cores": _round(self.client),
            "gunicorn_cores": _round(self.web),
            "postgres_cores": _round(self.database),
            "other_cores": _round(rest),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def postmaster_pid() -> int | None:
    """The local PostgreSQL server's pid (from postmaster.pid), or None if not readable."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW data_directory")
        row = cursor.fetchone()
    try:
        return int((Path(row[0]) / "postmaster.pid").read_text().split()[0]) if row else None
    except (OSError, ValueError, IndexError):
        return None


def _bench_backends(postmaster: int | None) -> list[int]:
    """The server processes serving the bench database (their title names it)."""
    if postmaster is None:
        return []
    found = []
    for pid in _children(postmaster):
        with contextlib.suppress(OSError):
            title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
            if f" {BENCH_DATABASE} ".encode() in title:
                found.append(pid)
    return found


@contextlib.contextmanager
def cpu_share(server: Server, postmaster: int | None) -> Iterator[list[CpuShare]]:
    """Measure the CPU use of the block: the whole machine, this process (the client),
    gunicorn's workers and the PostgreSQL processes serving the bench database; the rest
    is Redis, the kernel and whatever else runs on the machine."""
    found: list[CpuShare] = []
    workers = server.worker_pids()
    backends_start = {pid: _process_cpu_seconds([pid]) for pid in _bench_backends(postmaster)}
    machine_start = _cpu_times()
    client_start = time.process_time()
    web_start = _process_cpu_seconds(workers)
    started = time.perf_counter()
    yield found
    seconds = time.perf_counter() - started
    busy = _busy_since(machine_start)
    backends = _bench_backends(postmaster)
    database = sum(_process_cpu_seconds([pid]) - backends_start.get(pid, 0.0) for pid in backends)
    found.append(
        CpuShare(
            machine=None if busy is None else busy * (os.cpu_count() or 1),
            client=(time.process_time() - client_start) / seconds,
            web=(_process_cpu_seconds(workers) - web_start) / seconds,
            database=database / seconds if postmaster else None,
        )
    )


def measure_sql(database_url: str, listed: dict[str, Caller], repetitions: int) -> dict[str, Any]:
    """Capture each list page's SQL in-process, then time it with psycopg alone."""
    lists: dict[str, dict[str, Any]] = {}
    for name, caller in listed.items():
        statements = capture(caller)
        page_query = list_query(statements)
        raw_page = time_sql(database_url, [page_query], repetitions).summary()
        raw_all = time_sql(database_url, statements, repetitions).summary()
        lists[name] = {
            "caller": caller.email,
            "community": caller.community,
            "tickets_visible": caller.tickets_visible,
            "queries_per_request": len(statements),
            "sql": statements,
            "plan": explain(database_url, page_query),
            "raw_page_query": raw_page,
            "raw_all_queries": raw_all,
        }
        print(
            f"raw SQL, list as {name}: page query p50 {raw_page['p50_ms']} ms, "
            f"p95 {raw_page['p95_ms']} ms; all {len(statements)} queries p50 "
            f"{raw_all['p50_ms']} ms",
            flush=True,
        )
    return lists


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.api_bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--duration", type=float, default=30.0, help="create phase, seconds")
    parser.add_argument("--concurrency", type=int, default=8, help="create phase, threads")
    parser.add_argument("--list-requests", type=int, default=200, help="per list series")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--max-busy",
        type=float,
        default=0.25,
        help="wait until other work keeps the CPUs at most this busy (0-1)",
    )
    parser.add_argument("--quiet-timeout", type=float, default=600.0,
                        help="how long to wait for that, seconds")  # fmt: skip
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the tickets the create phase opened (default: delete them)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)

    database_url = bench_database_url()
    redis_url = bench_redis_url(source_redis_url())
    os.environ["REDIS_URL"] = redis_url
    setup_django(database_url)
    import django
    import gunicorn as gunicorn_package
    from django.db import connection

    from tickets.models import Ticket

    tickets = Ticket.objects.count()
    marks = high_water_marks()
    if not tickets:
        raise SystemExit(f"{BENCH_DATABASE} holds no tickets: run `python -m bench.load_tickets`.")
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        row = cursor.fetchone()
    _flush_redis(redis_url)
    listed, creators = callers()
    print(f"{BENCH_DATABASE}: {tickets} tickets", flush=True)
    busy_before = wait_until_quiet(max_busy=args.max_busy, timeout=args.quiet_timeout)

    # 1. The SQL behind each list page, and behind one create, captured in this process.
    lists = measure_sql(database_url, listed, args.list_requests)
    rng = random.Random(args.seed - 1)
    create_sql = capture(creators[0], "post", ticket_body(rng, creators[0].community or ""))
    postmaster = postmaster_pid()
    connection.close()

    # 2-4. Over HTTP.
    log_path = RESULTS_DIR / "gunicorn.log"
    try:
        with gunicorn(workers=args.workers, redis_url=redis_url, log_path=log_path) as server:
            for name, caller in listed.items():
                http = list_series(server.url, caller, args.list_requests).summary()
                lists[name]["http"] = http
                print(
                    f"HTTP list as {name}: p50 {http['p50_ms']} ms, p95 {http['p95_ms']} ms, "
                    f"errors {http['errors']}",
                    flush=True,
                )
            # Warm both workers up on the create path, then measure.
            create_load(server.url, creators, concurrency=args.concurrency, seconds=2, seed=0)
            busy_before_create = wait_until_quiet(
                max_busy=args.max_busy, timeout=args.quiet_timeout
            )
            with cpu_share(server, postmaster) as shares:
                create = create_load(
                    server.url, creators,
                    concurrency=args.concurrency, seconds=args.duration, seed=args.seed,
                ).summary()  # fmt: skip
    finally:
        _flush_redis(redis_url)
    print(
        f"HTTP create x{args.concurrency}: {create['per_second']} req/s, p50 "
        f"{create['p50_ms']} ms, p95 {create['p95_ms']} ms, errors {create['errors']}",
        flush=True,
    )

    result: dict[str, Any] = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "database": BENCH_DATABASE,
        "tickets": tickets,
        "tickets_created": Ticket.objects.filter(pk__gt=marks["ticket"]).count(),
        "machine": {
            **machine(),
            "busy_before": _round(busy_before),
            "busy_before_create": _round(busy_before_create),
            "postgres": row[0] if row else "?",
            "django": django.get_version(),
            "gunicorn": gunicorn_package.__version__,
        },
        "settings": {
            "workers": args.workers,
            "concurrency": args.concurrency,
            "duration": args.duration,
            "list_requests": args.list_requests,
        },
        "lists": lists,
        "create": {
            **create,
            "cpu": shares[0].summary() if shares else None,
            "queries_per_request": len(create_sql),
            "sql": create_sql,
        },
    }
    if not args.keep:
        # The next run should list the same tickets: forget the ones this run opened.
        removed = remove_created(marks)
        print(f"removed the {removed} tickets the create phase opened", flush=True)
    print()
    print(markdown(result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    errors = create["errors"] + sum(v["http"]["errors"] for v in lists.values())
    return 1 if errors else 0


LIST_LABELS = {
    "agent": "agent (staff)",
    "rep_largest": "representative, largest community",
    "rep_smallest": "representative, smallest community",
    "member": "member (own requests only)",
}


def markdown(result: dict[str, Any]) -> str:
    """The figures as a markdown table (metric | figure)."""
    create = result["create"]
    rows = [
        (
            f"create: throughput at concurrency {result['settings']['concurrency']}",
            f"{create['per_second']} req/s ({create['ok']} in {create['seconds']} s)",
        ),
        ("create: latency p50 / p95", f"{create['p50_ms']} / {create['p95_ms']} ms"),
        ("create: errors (non-2xx)", f"{create['errors']} of {create['requests']}"),
    ]
    cpu = create.get("cpu")
    if cpu and cpu["machine_cores_busy"] is not None:
        rows.append(
            (
                "create: CPU cores busy (client / gunicorn / PostgreSQL / rest of the machine)",
                f"{cpu['machine_cores_busy']} of {result['machine']['cores']} "
                f"({cpu['client_cores']} / {cpu['gunicorn_cores']} / "
                f"{cpu['postgres_cores']} / {cpu['other_cores']})",
            )
        )
    for name, figures in result["lists"].items():
        label = (
            f"list page 1 as {LIST_LABELS.get(name, name)} ({figures['tickets_visible']} visible)"
        )
        http, raw = figures["http"], figures["raw_page_query"]
        rows += [
            (f"{label}: HTTP p50 / p95", f"{http['p50_ms']} / {http['p95_ms']} ms"),
            (f"{label}: page SQL via psycopg p50 / p95", f"{raw['p50_ms']} / {raw['p95_ms']} ms"),
            (f"{label}: errors (non-2xx)", f"{http['errors']} of {http['requests']}"),
        ]
    lines = ["| metric | figure |", "|---|---|"]
    lines += [f"| {metric} | {figure} |" for metric, figure in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
