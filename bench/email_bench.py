"""Intake's speed: many messages through `mail_intake`, one after the other in each of a
few processes (as the inbound endpoint's gunicorn workers, the IMAP pollers and the mail
server's `ingest_email` pipes take mail side by side).

    python -m bench.email_bench [DIR…] [--messages 10000] [--processes 2] [--json FILE]
                                [--doc FILE]

The messages are the mail files under DIR (default: the public corpus in
../shared/data/email/), taken in turn, each with a fresh Message-ID so that every one is
new to the desk (a reply whose thread is unknown falls back to its subject tag, or opens a
ticket). Like bench.email_corpus it runs on the scratch database `supportdesk_bench_email`,
dropped and created afresh, with every sender of the corpus made a representative of one
community. Prints messages per second (all processes together, and what one process
does alone, measured first with the others idle), the time per message (p50 / p95 / max),
and what became of them; writes bench/results/email.json and the `email` block of
docs/benchmarks.md. Run it inside `python -m supportdesk.embedded exec --`.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.api_bench import machine, percentile
from bench.docs import DOC, write_block
from bench.email_corpus import (
    EMAIL_DATABASE,
    fresh_database,
    mail_files,
    make_senders_known,
    setup,
)
from bench.load_tickets import RESULTS_DIR, ROOT, source_database_url, with_database

CORPUS = ROOT.parent / "shared" / "data" / "email"
JSON = RESULTS_DIR / "email.json"
TARGET_PER_SECOND = 100.0
_MESSAGE_ID = re.compile(rb"^message-id:[^\n]*(\n[ \t][^\n]*)*\n", re.I | re.M)


def with_message_id(raw: bytes, message_id: str) -> bytes:
    """`raw` with its Message-ID header (if any) replaced by `message_id`."""
    crlf = b"\r\n" in raw[:2000]
    text = raw.replace(b"\r\n", b"\n") if crlf else raw
    head, blank, body = text.partition(b"\n\n")
    head = _MESSAGE_ID.sub(b"", head + b"\n").rstrip(b"\n")
    head = f"Message-ID: <{message_id}>\n".encode() + head
    out = head + blank + body
    return out.replace(b"\n", b"\r\n") if crlf else out


def run(
    samples: list[bytes], count: int, *, first: int = 0
) -> tuple[list[float], Counter[str], float]:
    """Messages `first` to `first + count` (each sample in turn, with a fresh Message-ID)
    through intake, one after the other: (seconds per message, outcomes, seconds in all)."""
    from tickets.mail.models import Status
    from tickets.mail.services import mail_intake

    times: list[float] = []
    outcomes: Counter[str] = Counter()
    started = time.perf_counter()
    for n in range(first, first + count):
        raw = with_message_id(samples[n % len(samples)], f"bench-{n}@bench.example")
        t = time.perf_counter()
        inbound = mail_intake(raw, source="command")
        times.append(time.perf_counter() - t)
        key = inbound.status
        if inbound.status in (Status.REFUSED, Status.HELD):
            key = f"{inbound.status}: {inbound.reason}"
        outcomes[key] += 1
    return times, outcomes, time.perf_counter() - started


def _run_in_child(args: tuple[list[bytes], int, int]) -> tuple[list[float], Counter[str], float]:
    from django.db import connections

    connections.close_all()  # the parent's connection is not this process's to use
    samples, count, first = args
    return run(samples, count, first=first)


def run_side_by_side(
    samples: list[bytes], count: int, processes: int, *, first: int
) -> tuple[list[float], Counter[str], float]:
    """`count` messages shared out among `processes` forked processes, all started together:
    (every message's seconds, outcomes, wall seconds from the first start to the last end)."""
    from django.db import connections

    connections.close_all()
    share = [count // processes + (1 if n < count % processes else 0) for n in range(processes)]
    starts = [first + sum(share[:n]) for n in range(processes)]
    started = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        results = pool.map(
            _run_in_child, [(samples, c, s) for c, s in zip(share, starts, strict=True)]
        )
    seconds = time.perf_counter() - started
    times = [t for r in results for t in r[0]]
    outcomes: Counter[str] = Counter()
    for r in results:
        outcomes.update(r[1])
    return times, outcomes, seconds


def markdown(result: dict[str, Any]) -> str:
    t = result["per_message_ms"]
    rate = result["per_second"]
    met = "met" if rate >= TARGET_PER_SECOND else "**not met**"
    outcomes = ", ".join(f"{k} {v:,}" for k, v in sorted(result["outcomes"].items()))
    return "\n".join(
        [
            "## Email intake (`bench/email_bench.py`)",
            "",
            f"Measured on **{result['measured_at']}** ({result['machine']['cores']} cores, "
            f"{result['machine']['cpu']}), on the scratch database `{EMAIL_DATABASE}`: "
            f"{result['messages']:,} messages, the {result['samples']} files of the public "
            "corpus taken in turn, each with a fresh Message-ID, through `mail_intake` "
            "(parsing, the loop guard, threading, the ticket or reply with its audit rows and "
            f"outbox events, the raw message kept), in {result['processes']} processes side by "
            "side, each taking its share one message after the other; PostgreSQL and Redis "
            "on the same machine.",
            "",
            "| metric | figure | target | met? |",
            "|---|---|---|---|",
            f"| messages per second, {result['processes']} processes | **{rate:.0f}** "
            f"({result['seconds']:.1f} s) | ≥ {TARGET_PER_SECOND:.0f} | {met} |",
            f"| messages per second, one process alone ({result['alone']['messages']:,} "
            f"messages) | {result['alone']['per_second']:.0f} | | |",
            f"| per message, p50 / **p95** / max | {t['p50']:.1f} / **{t['p95']:.1f}** / "
            f"{t['max']:.1f} ms | | |",
            "",
            f"What became of them: {outcomes}.",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.email_bench", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("folders", nargs="*", type=Path, default=[CORPUS])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--json", type=Path, default=JSON)
    parser.add_argument("--doc", type=Path, default=DOC)
    args = parser.parse_args(argv)
    files = mail_files(args.folders)
    if not files:
        print("No mail files under " + ", ".join(map(str, args.folders)), file=sys.stderr)
        return 2
    fresh_database(source_database_url())
    setup(with_database(source_database_url(), EMAIL_DATABASE))
    make_senders_known(files)
    samples = [path.read_bytes() for path in files]
    alone_count = max(len(samples), args.messages // 10)
    print(f"{alone_count:,} messages in one process, then {args.messages:,} in "
          f"{args.processes} processes, from {len(samples)} files", flush=True)  # fmt: skip
    _, _, alone_seconds = run(samples, alone_count, first=10_000_000)
    times, outcomes, seconds = run_side_by_side(samples, args.messages, args.processes, first=0)
    ms = sorted(1000 * t for t in times)
    result = {
        "measured_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "messages": args.messages,
        "processes": args.processes,
        "alone": {
            "messages": alone_count,
            "per_second": round(alone_count / alone_seconds, 1),
        },
        "samples": len(samples),
        "seconds": round(seconds, 2),
        "per_second": round(args.messages / seconds, 1),
        "per_message_ms": {
            "p50": round(percentile(ms, 50), 2),
            "p95": round(percentile(ms, 95), 2),
            "max": round(ms[-1], 2),
        },
        "outcomes": dict(outcomes),
    }
    print(json.dumps(result, indent=2, default=str))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2, default=str))
    write_block("email", markdown(result), args.doc)
    print(f"wrote {args.json} and the email section of {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
