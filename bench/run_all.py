"""`make bench`: load the bench data, measure the API, write docs/benchmarks.md.

    python -m bench.run_all [--tickets 100000] [--reset] [--duration 30] [--concurrency 8]
                            [--list-requests 200]

Runs `python -m bench.load_tickets` then `python -m bench.api_bench` (each from the
repository root, each on the separate `supportdesk_bench` database), collects their JSON
figures under bench/results/, and rewrites docs/benchmarks.md with them, next to the
targets below. `make bench` wraps it in `python -m supportdesk.embedded exec --`, so
PostgreSQL and Redis are the project's own embedded ones unless DATABASE_URL / REDIS_URL
name others.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.docs import blocks, busy_note

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
LOAD_JSON = RESULTS / "load.json"
# The last load that really ran; reused in the page when a later run skips loading.
LOAD_MEASURED_JSON = RESULTS / "load-measured.json"
API_JSON = RESULTS / "api.json"
DOC = ROOT / "docs" / "benchmarks.md"


@dataclass(frozen=True)
class Target:
    """A figure's target: `test(value)` says whether a value meets it."""

    text: str
    test: Callable[[float], bool]
    why: str


TARGETS = {
    "load": Target(
        "≤ 600 s",
        lambda v: v <= 600,
        "The issue asks for minutes, not hours. Ten minutes keeps `make bench` usable on a "
        "2-core CI machine and a fresh clone; a row-by-row ORM load takes far longer.",
    ),
    "create_rps": Target(
        "≥ 100 req/s",
        lambda v: v >= 100,
        "An outage brings a burst of reports, yet even a large desk opens a few tickets per "
        "second at its peak; 100 req/s on 2 cores leaves ample headroom and lets an API "
        "import of 100k tickets finish in under 20 minutes.",
    ),
    "create_p95": Target(
        "≤ 200 ms",
        lambda v: v <= 200,
        "Submitting a form should feel immediate (about 0.2 s) even with 8 requests in "
        "flight on 2 workers, which means each request must take well under 50 ms of work.",
    ),
    "errors": Target(
        "0",
        lambda v: v == 0,
        "Every request of a benchmark is valid; any non-2xx answer or dropped connection is "
        "a bug (or a throttle the benchmark failed to raise).",
    ),
    "list_p95": Target(
        "≤ 100 ms",
        lambda v: v <= 100,
        "The ticket list is the desk's and the portal's most frequent request; 100 ms is the "
        "usual bound for a response that feels instant, and it must hold at 100k tickets "
        "whatever the caller's scope.",
    ),
    "sql_p95": Target(
        "≤ 10 ms",
        lambda v: v <= 10,
        "The first page (`ORDER BY id DESC LIMIT 26`) must come from an index, in a few "
        "milliseconds, not from scanning and sorting 100k rows, which takes tens of "
        "milliseconds here and grows with the table.",
    ),
}

SCOPE_NOTE = (
    " The scope is `community_id IN (SELECT community_id FROM communities_membership ...)` "
    "(`tickets.selectors.ticket_scope()`): PostgreSQL cannot tell from those sub-selects how "
    "few tickets match, so it walks the primary key backwards and filters, and the cost grows "
    "with the whole table, not with what this user may see."
)
LIST_LABELS = {
    "agent": "agent (staff)",
    "rep_largest": "representative of the largest community",
    "rep_smallest": "representative of the smallest community",
    "member": "member who is no representative (own requests only)",
}


def run(module: str, *args: str) -> int:
    command = [sys.executable, "-m", module, *args]
    print(f"\n$ {' '.join(command)}", flush=True)
    return subprocess.call(command, cwd=ROOT)


def _ms(value: float | None) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.1f} ms"


def _row(metric: str, figure: str, target: str, value: float | None) -> tuple[str, ...]:
    spec = TARGETS[target]
    if value is None or (isinstance(value, float) and math.isnan(value)):
        met = "not measured"
    else:
        met = "met" if spec.test(value) else "**not met**"
    return (metric, figure, spec.text, met)


def table(load: dict[str, Any] | None, api: dict[str, Any]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    if load and load.get("seconds") is not None:
        reused = " (from an earlier run)" if load.get("reused") else ""
        rows.append(
            _row(
                f"load {load['tickets']:,} tickets, {load['messages']:,} messages, "
                f"{load['events']:,} events{reused}",
                f"{load['seconds']:.0f} s ({load['insert_seconds']:.0f} s inserting, "
                f"{load['analyze_seconds']:.1f} s ANALYZE)",
                "load",
                load["seconds"],
            )
        )
    else:
        rows.append(("load tickets", "skipped: bench data already present", "≤ 600 s", "—"))
    create = api["create"]
    concurrency = api["settings"]["concurrency"]
    rows += [
        _row(
            f"create (`POST /api/v1/tickets/`), concurrency {concurrency}, throughput",
            f"{create['per_second']:.1f} req/s ({create['ok']:,} in {create['seconds']:.0f} s)",
            "create_rps",
            create["per_second"],
        ),
        _row(
            "create, latency p50 / **p95**",
            f"{_ms(create['p50_ms'])} / **{_ms(create['p95_ms'])}**",
            "create_p95",
            create["p95_ms"],
        ),
        _row(
            "create, errors (non-2xx)",
            f"{create['errors']} of {create['requests']:,}",
            "errors",
            create["errors"],
        ),
    ]
    for name, figures in api["lists"].items():
        who = LIST_LABELS.get(name, name)
        visible = f"{figures['tickets_visible']:,} tickets visible"
        http, raw = figures["http"], figures["raw_page_query"]
        rows += [
            _row(
                f"list page 1 (`GET /api/v1/tickets/`) as {who} ({visible}), p50 / **p95**",
                f"{_ms(http['p50_ms'])} / **{_ms(http['p95_ms'])}**",
                "list_p95",
                http["p95_ms"],
            ),
            _row(
                "the same page's SQL, psycopg alone, p50 / **p95**",
                f"{_ms(raw['p50_ms'])} / **{_ms(raw['p95_ms'])}**",
                "sql_p95",
                raw["p95_ms"],
            ),
            _row(
                "list, errors (non-2xx)",
                f"{http['errors']} of {http['requests']:,}",
                "errors",
                http["errors"],
            ),
        ]
    return rows


def observations(load: dict[str, Any] | None, api: dict[str, Any]) -> list[str]:
    """What the figures say, computed from them so that the page never goes stale."""
    notes: list[str] = []
    create = api["create"]
    checks = sum(1 for q in create["sql"] if q.startswith('SELECT 1 AS "_check"'))
    notes.append(
        f"One create runs {create['queries_per_request']} SQL statements"
        + (
            f', {checks} of which are `SELECT 1 AS "_check" …`: `Model.full_clean()` '
            "asking PostgreSQL whether each CheckConstraint would hold, before the INSERT "
            "that enforces them anyway."
            if checks
            else "."
        )
    )
    cpu = create.get("cpu")
    cores = api["machine"]["cores"]
    if cpu and cpu.get("machine_cores_busy") is not None:
        notes.append(
            f"During the create run {cpu['machine_cores_busy']} of {cores} cores were busy: "
            f"{cpu['gunicorn_cores']} in the gunicorn workers, {cpu['postgres_cores']} in "
            f"PostgreSQL (the bench database's server processes), {cpu['client_cores']} in "
            f"the benchmark's own HTTP client and {cpu['other_cores']} in Redis, the kernel "
            "and anything else running on the machine. Client, server and database share "
            "the same cores, so the figures are a floor for a real deployment."
        )
    for name, figures in api["lists"].items():
        http, raw_all = figures["http"], figures["raw_all_queries"]
        read = tickets_read(figures["plan"])
        note = (
            f"List as {LIST_LABELS.get(name, name)}: {figures['queries_per_request']} queries "
            f"per request, {_ms(raw_all['p50_ms'])} of SQL in all (p50), against "
            f"{_ms(http['p50_ms'])} over HTTP: the rest is Python (authentication, "
            "filtering, serialising 25 tickets) and HTTP."
        )
        if read is not None and read > 1000:
            note += (
                f" To find the page, PostgreSQL went through {read:,} ticket rows "
                "(`Rows Removed by Filter` in the plan below)."
            )
            if read > 10_000 and "SubPlan" in figures["plan"]:
                note += SCOPE_NOTE
        notes.append(note)
    page_sql = next(iter(api["lists"].values()))["sql"]
    if any('"tickets_ticket"."search"' in q for q in page_sql):
        notes.append(
            "The list query fetches `tickets_ticket.search`, the generated tsvector, for "
            "every row although no list serializer shows it (`ticket_list()` defers only "
            "`description`)."
        )
    busy = [api["machine"].get(k) for k in ("busy_before", "busy_before_create")]
    if note := busy_note(busy, "the list and the create phases", above=0.25):
        notes.append(note)
    other = (cpu or {}).get("other_cores")
    if other is not None and other > 0.3:
        notes.append(
            f"Something else used {other} cores during the create run (the benchmark waits "
            "for a quiet machine before starting, but cannot stop other work from starting): "
            "the create figures are pessimistic."
        )
    if load and load.get("reused"):
        notes.append(
            f"This run found the bench data already loaded; the load time is the one "
            f"measured on {load['measured_at']}; `python -m bench.run_all --reset` (inside "
            "`python -m supportdesk.embedded exec --`) measures it again."
        )
    return notes


def render(load: dict[str, Any] | None, api: dict[str, Any]) -> str:
    machine = api["machine"]
    settings = api["settings"]
    measured = api["measured_at"].replace("T", " ").replace("+00:00", " UTC")
    rows = table(load, api)
    lines = [
        "# Benchmarks",
        "",
        "Repeatable measurements of the ticket API at a realistic size: how long it takes "
        "to load 100,000 tickets, how many tickets the API opens per second, and how fast "
        "the first page of the ticket list comes back for an agent, for community "
        "representatives and for a plain member, next to the time PostgreSQL alone takes for the same SQL. "
        "Benchmarks are never part of `make test`, and no test asserts a timing.",
        "",
        "## How to run",
        "",
        "```sh",
        "make bench",
        "# = .venv/bin/python -m supportdesk.embedded exec -- .venv/bin/python -m bench.run_all",
        "```",
        "",
        "`bench/run_all.py` runs `python -m bench.load_tickets` (create and migrate the "
        "separate database `supportdesk_bench` on the same server as `DATABASE_URL`, and "
        "fill it with 20 communities, their people, 40 agents and 100k tickets with their "
        "messages, spread over the past year; skipped when the tickets are already there, "
        "`--reset` starts again) and then `python -m bench.api_bench` (gunicorn with "
        f"{settings['workers']} sync workers on a free port of 127.0.0.1, "
        "`supportdesk.settings.local` with `DEBUG=false` and the throttles raised; "
        f"{settings['list_requests']} list requests per caller one after another; ticket "
        f"creation from {settings['concurrency']} threads for {settings['duration']:.0f} s, "
        "each thread with its own `requests.Session`), then rewrites this page. "
        "The development database is never touched. The raw figures, SQL and query plans "
        "are kept in `bench/results/` (not committed). Both scripts take `--help`.",
        "",
        "## Machine",
        "",
        f"- measured on **{measured}**",
        f"- {machine['cores']} cores ({machine['cpu']}), {machine['memory_gb']} GB RAM, "
        f"{machine['os']}",
        f"- PostgreSQL {machine['postgres']} (embedded, default configuration), "
        f"Python {machine['python']}, Django {machine['django']}, "
        f"gunicorn {machine['gunicorn']}",
        "- the benchmark's HTTP client, gunicorn, PostgreSQL and Redis all run on this one machine",
        "",
        f"## Results ({api['tickets']:,} tickets in the database)",
        "",
        "| metric | figure | target | met? |",
        "|---|---|---|---|",
        *(f"| {' | '.join(row)} |" for row in rows),
        "",
        "Latencies are measured by the client, from sending the request to the last byte "
        "of the answer; p50 / p95 are nearest-rank percentiles of the successful requests. "
        "gunicorn's sync workers close the connection after each response, so every "
        "request also pays for a new TCP connection to 127.0.0.1.",
        "",
        "## What the figures say",
        "",
        *(f"- {note}" for note in observations(load, api)),
        "",
        "## Targets",
        "",
        "The issue names no numbers for these, so these are ours:",
        "",
        *(f"- **{t.text}** ({name.replace('_', ' ')}): {t.why}" for name, t in TARGETS.items()),
        "",
        "## Query plans",
        "",
    ]
    for name, figures in api["lists"].items():
        lines += [
            "<details>",
            f"<summary>List page 1 as {LIST_LABELS.get(name, name)}</summary>",
            "",
            "```sql",
            list_sql(figures["sql"]),
            "```",
            "",
            "```",
            figures["plan"],
            "```",
            "",
            "</details>",
            "",
        ]
    return "\n".join(lines)


def tickets_read(plan: str) -> int | None:
    """Rows of tickets_ticket the plan's scan read and threw away, when it says so."""
    scanning = False
    for line in plan.splitlines():
        if " on tickets_ticket" in line:
            scanning = True
        elif scanning and "Rows Removed by Filter:" in line:
            return int(line.split(":", 1)[1].strip())
        elif scanning and "->" in line:
            return None
    return None


def list_sql(statements: list[str]) -> str:
    reading = [s for s in statements if 'FROM "tickets_ticket"' in s]
    return max(reading, key=len) if reading else "\n".join(statements)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run_all", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--reset", action="store_true", help="reload the bench data")
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--list-requests", type=int, default=200)
    parser.add_argument("--doc", type=Path, default=DOC, help="where to write the page")
    args = parser.parse_args(argv)

    RESULTS.mkdir(parents=True, exist_ok=True)
    load_args = ["--tickets", str(args.tickets), "--json", str(LOAD_JSON)]
    if run("bench.load_tickets", *load_args, *(["--reset"] if args.reset else [])):
        print("loading failed", file=sys.stderr)
        return 1
    load: dict[str, Any] | None = json.loads(LOAD_JSON.read_text())
    if load and not load.get("skipped"):
        shutil.copyfile(LOAD_JSON, LOAD_MEASURED_JSON)
    elif LOAD_MEASURED_JSON.exists():
        load = {**json.loads(LOAD_MEASURED_JSON.read_text()), "reused": True}

    api_args = [
        "--duration", str(args.duration), "--concurrency", str(args.concurrency),
        "--list-requests", str(args.list_requests), "--json", str(API_JSON),
    ]  # fmt: skip
    API_JSON.unlink(missing_ok=True)  # a failed run must not leave an old page's figures
    status = run("bench.api_bench", *api_args)
    if not API_JSON.exists():
        print("the API benchmark wrote no figures", file=sys.stderr)
        return 1
    api = json.loads(API_JSON.read_text())
    args.doc.parent.mkdir(parents=True, exist_ok=True)
    # The other benchmarks' sections (bench/docs.py) stay as their last runs left them.
    kept = blocks(args.doc.read_text()) if args.doc.exists() else []
    args.doc.write_text("\n".join([render(load, api), *kept]).rstrip() + "\n")
    print(f"\nwrote {args.doc.relative_to(ROOT) if args.doc.is_relative_to(ROOT) else args.doc}")
    return status


if __name__ == "__main__":
    sys.exit(main())
