"""Run every mail file under the given folders through intake and print what became of them.

    python -m bench.email_corpus DIR… [--senders known|unknown] [--verbose]

Runs on a scratch database of its own, `supportdesk_bench_email`, on the same server as
DATABASE_URL: dropped and created afresh on every run, then migrated (the development and
other benches' databases are never touched). Run it inside
`python -m supportdesk.embedded exec --`.

With `--senders known` (the default) everyone who sent one of the files is first made a
representative of one community, so that the table shows what the desk does with the
mail itself rather than "unknown sender" for nearly every file. Files called INDEX.csv,
SOURCE*.txt, *LICENSE* and .gitattributes are notes, not mail, and are skipped.

Prints: files, tickets created, replies threaded, refused (by reason), held (by reason),
quarantined, crashed (an exception out of `mail_intake`, which must never happen), and
the mail all this causes (by kind): what intake queues itself (refused attachments,
refusals to unknown senders) and what the ticket reactions queue once run here, as a
worker would (acknowledgements, approval requests). Mail is queued in the outbox, not
sent. Exits 1 if anything crashed, or if any mail went to the sender of a message the
guard refused (a bounce, an automatic reply, list mail, a loop).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from collections import Counter
from email.utils import parseaddr
from pathlib import Path

from bench.load_tickets import SETTINGS_MODULE, source_database_url, source_redis_url, with_database

EMAIL_DATABASE = "supportdesk_bench_email"
_NOT_MAIL = {"INDEX.csv", "SOURCE-overview.txt", "SOURCE.txt", ".gitattributes"}


def mail_files(folders: list[Path]) -> list[Path]:
    found: list[Path] = []
    for folder in folders:
        candidates = [folder] if folder.is_file() else sorted(folder.rglob("*"))
        found += [
            path
            for path in candidates
            if path.is_file() and path.name not in _NOT_MAIL and "LICENSE" not in path.name
        ]
    return found


def fresh_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as conn:
        name = sql.Identifier(EMAIL_DATABASE)
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(name))


def setup(database_url: str) -> None:
    """Django on the scratch database, with the benchmarks' Redis database for the tasks
    intake hands over (emptied first; nothing runs them)."""
    from bench.api_bench import _flush_redis, bench_redis_url

    redis_url = bench_redis_url(source_redis_url())
    _flush_redis(redis_url)
    os.environ.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        DJANGO_SETTINGS_MODULE=SETTINGS_MODULE,
    )
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    # The bench counts what intake decides; mail to representatives is not its business.
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.MAIL_SENDER_HOURLY_LIMIT = 1_000_000
    call_command("migrate", interactive=False, verbosity=0)


def senders_of(files: list[Path]) -> list[str]:
    """The From addresses of the files' headers, lower-cased, sorted, once each."""
    addresses: set[str] = set()
    for path in files:
        head = path.read_bytes().split(b"\n\n", 1)[0].decode("latin-1")
        for line in head.splitlines():
            if line.lower().startswith("from:"):
                address = parseaddr(line[5:])[1].strip().lower()
                if "@" in address and " " not in address:
                    addresses.add(address)
    return sorted(addresses)


def make_senders_known(files: list[Path]) -> None:
    from communities.models import Community, Membership, ServicePlan
    from core.models import User

    plan = ServicePlan.objects.create(
        name="Email corpus", slug="email-corpus", uptime_guarantee=99, downtime_credit_percent=0
    )
    community = Community.objects.create(
        name="Email corpus", slug="email-corpus", service_plan=plan
    )
    for address in senders_of(files):
        user = User.objects.create_user(address)
        Membership.objects.create(user=user, community=community, role="representative")


def run(files: list[Path], *, verbose: bool = False) -> tuple[Counter[str], list[str]]:
    from tickets.mail.management.commands.ingest_email import describe
    from tickets.mail.models import Status
    from tickets.mail.services import mail_intake

    counts: Counter[str] = Counter()
    crashes: list[str] = []
    for path in files:
        try:
            inbound = mail_intake(path.read_bytes(), source="command")
        except Exception:  # noqa: BLE001  # counted, and the run goes on
            counts["crashed"] += 1
            crashes.append(f"{path}\n{traceback.format_exc()}")
            continue
        if verbose:
            print(f"{path}: {describe(inbound)}")
        if inbound.status in (Status.REFUSED, Status.HELD):
            counts[f"{inbound.status}: {inbound.reason}"] += 1
        else:
            counts[inbound.status] += 1
    return counts, crashes


def mail_caused() -> tuple[Counter[str], list[str]]:
    """Run the ticket mail reactions as a worker would; the mail queued, by kind, and the
    recipients of any mail answering refused noise (there must be none)."""
    from core.models import EventDelivery
    from core.outbox import delivery_run
    from tickets.mail.models import InboundMessage, OutboundMail, Reason

    pending = EventDelivery.objects.filter(
        handler__startswith="tickets.notifications.", state=EventDelivery.State.PENDING
    ).order_by("pk")
    for delivery_id in pending.values_list("pk", flat=True):
        delivery_run(delivery_id=delivery_id)
    kinds = Counter(OutboundMail.objects.values_list("kind", flat=True))
    noise = InboundMessage.objects.filter(
        reason__in=[Reason.BOUNCE, Reason.AUTO_REPLY, Reason.MAILING_LIST, Reason.LOOP]
    )
    keys = [f"inbound:{message_id}" for message_id in noise.values_list("message_id", flat=True)]
    # Noise makes no ticket, so no reaction can mail about it; intake's own answers are
    # keyed by the message they answer.
    answered = OutboundMail.objects.filter(
        dedup_key__in=[f"{kind}:{key}" for key in keys for kind in kinds]
    )
    return kinds, list(answered.values_list("recipient", flat=True))


def table(files: list[Path], counts: Counter[str], seconds: float) -> str:
    rows = [
        ("files", len(files)),
        ("tickets created", counts["ticket_opened"]),
        ("replies threaded", counts["reply_added"]),
    ]
    for prefix in ("refused", "held"):
        keys = sorted(k for k in counts if k.startswith(prefix + ":"))
        rows.append((prefix, sum(counts[k] for k in keys)))
        rows += [(f"  {k.split(': ', 1)[1]}", counts[k]) for k in keys]
    rows += [("quarantined", counts["quarantined"]), ("crashed", counts["crashed"])]
    width = max(len(label) for label, _ in rows)
    lines = [f"{label:<{width}}  {value:>6}" for label, value in rows]
    lines.append(f"{'seconds':<{width}}  {seconds:>6.1f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--senders", choices=["known", "unknown"], default="known")
    parser.add_argument("--verbose", action="store_true", help="one line per file first")
    args = parser.parse_args(argv)
    files = mail_files(args.folders)
    if not files:
        print("No mail files under " + ", ".join(map(str, args.folders)), file=sys.stderr)
        return 2
    url = with_database(source_database_url(), EMAIL_DATABASE)
    fresh_database(source_database_url())
    setup(url)
    if args.senders == "known":
        make_senders_known(files)
    started = time.perf_counter()
    counts, crashes = run(files, verbose=args.verbose)
    print(table(files, counts, time.perf_counter() - started))
    kinds, noise_answered = mail_caused()
    width = max([len("mails queued"), *(len(k) + 2 for k in kinds)])
    print(f"{'mails queued':<{width}}  {sum(kinds.values()):>6}")
    for kind, number in sorted(kinds.items()):
        print(f"{'  ' + kind:<{width}}  {number:>6}")
    print(f"{'to noise':<{width}}  {len(noise_answered):>6}")
    for crash in crashes:
        print(crash, file=sys.stderr)
    for address in noise_answered:
        print(f"mail queued to {address} in answer to a refused message", file=sys.stderr)
    return 1 if crashes or noise_answered else 0


if __name__ == "__main__":
    sys.exit(main())
