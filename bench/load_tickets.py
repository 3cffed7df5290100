"""Fill a separate database, `supportdesk_bench`, with a year of support-desk traffic.

    python -m bench.load_tickets [--tickets 100000] [--reset] [--json FILE]

The database lives on the same server as DATABASE_URL (the embedded one under `make bench`)
and is created and migrated when missing; the development database is never touched.
20 communities on three service plans, their representatives and members, 40 agents and
a dozen categories are created first; then N tickets, each with its first message (the
description, as `tickets.services.lifecycle.ticket_open` writes it) and its "opened" audit event,
plus a few replies and internal notes. Tickets are inserted with bulk_create so their ids
come from the table's identity; messages and events, which need no ids back, go in with
COPY. Statuses, severities, kinds, tiers, channels and times follow a plausible year.

Idempotent-ish: with `--reset` the bench data is truncated first; otherwise a database
that already holds N tickets is left alone, and one that holds fewer is topped up.
Bulk loading skips django-simple-history: the historical tables stay empty.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
BENCH_DATABASE = "supportdesk_bench"
SETTINGS_MODULE = "supportdesk.settings.local"
BENCH_EMAIL_DOMAIN = "bench.example"

COMMUNITIES = (
    "Aurora Research Network", "Baltic Data Cooperative", "Cedar Valley Hospitals",
    "Delta Port Authority", "Elmstead University", "Fjord Energy", "Granite City Council",
    "Harbor Logistics", "Iris Biobank", "Juniper Schools Trust", "Kestrel Observatory",
    "Lumen Libraries", "Meridian Climate Lab", "Nordic Genome Centre", "Orchard Farmers Union",
    "Pioneer Space Agency", "Quarry Museum Alliance", "Riverside Housing", "Summit Film Archive",
    "Tundra Weather Service",
)  # fmt: skip
TIME_ZONES = (
    "Europe/Berlin", "Europe/Paris", "Europe/London", "America/New_York", "Asia/Tokyo",
    "Europe/Helsinki", "America/Los_Angeles", "Australia/Sydney", "UTC", "Europe/Madrid",
)  # fmt: skip
PLANS = (
    # name, uptime guarantee, credit percent
    ("Essential", "99.500", 10),
    ("Business", "99.900", 25),
    ("Premium", "99.990", 50),
)
CATEGORIES = (
    # name, parent name, default tier
    ("Accounts", None, "community"),
    ("Single sign-on", "Accounts", "expert"),
    ("Storage", None, "community"),
    ("Backups", "Storage", "expert"),
    ("Compute", None, "expert"),
    ("Networking", None, "engineering"),
    ("Email and lists", None, "community"),
    ("Data portal", None, "community"),
    ("Training", None, "community"),
    ("Security", None, "engineering"),
    ("Billing", None, "community"),
    ("Integrations", None, "expert"),
)
AGENTS = 40
REPRESENTATIVES_PER_COMMUNITY = 2
MEMBERS_PER_COMMUNITY = 25

FIRST_NAMES = (
    "Ada", "Bjorn", "Chloe", "Dev", "Elif", "Farid", "Greta", "Hiro", "Ines", "Jonas", "Kaja",
    "Liam", "Mira", "Noor", "Oskar", "Priya", "Quentin", "Rosa", "Sami", "Tomas", "Uma",
    "Viktor", "Wen", "Yara", "Zoltan",
)  # fmt: skip
LAST_NAMES = (
    "Andersen", "Baker", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Hansen", "Ito",
    "Jensen", "Kowalski", "Larsen", "Moreau", "Nakamura", "Olsen", "Petrov", "Quinn", "Rossi",
    "Schmidt", "Tanaka", "Ulrich", "Varga", "Weber", "Yilmaz", "Zimmermann",
)  # fmt: skip
PRODUCTS = (
    "single sign-on", "the data portal", "the compute cluster", "object storage",
    "the mailing lists", "the wiki", "the VPN", "nightly backups", "the build pipeline",
    "the API gateway", "the search index", "certificate renewal", "DNS", "the video bridge",
    "the CSV export", "two-factor login", "the shared drive", "the job scheduler",
)  # fmt: skip
PROBLEMS = (
    "is down", "returns 502 errors", "is very slow", "rejects valid credentials",
    "lost recent changes", "shows the wrong quota", "times out on large uploads",
    "sends duplicate notifications", "fails since the last update", "refuses new accounts",
    "is unreachable from our office", "reports a certificate error",
)  # fmt: skip
DETAILS = (
    "It started this morning around nine.", "Several colleagues see the same thing.",
    "Restarting the client did not help.", "We tried another browser with the same result.",
    "The error message mentions a timeout.", "This blocks our monthly reporting.",
    "Nothing changed on our side as far as we know.", "Screenshots can be sent on request.",
    "It works from home but not from the lab network.", "Only large files seem affected.",
    "Our deadline is at the end of the week.", "The log shows 'connection reset by peer'.",
)  # fmt: skip
REPLIES = (
    "Thanks for the report, we are looking into it.",
    "Could you send the exact time and the error message you saw?",
    "We found the cause and deployed a fix; please try again.",
    "This is a known issue; a workaround is described in the knowledge base.",
    "We have escalated this to the engineering team.",
    "Can you confirm the problem is solved on your side?",
    "It works again, thank you very much!",
    "The problem is back since this morning, unfortunately.",
    "Here is the log excerpt you asked for.",
    "We scheduled the change for the next maintenance window.",
)  # fmt: skip
NOTES = (
    "Checked the load balancer logs: upstream timeouts on node 3.",
    "Same root cause as last month's storage incident.",
    "Customer is on the Premium plan, keep the response SLA in mind.",
    "Needs a config change by engineering, ticket linked.",
    "Waiting for the vendor's answer before replying.",
)  # fmt: skip
TAGS = ("vip", "regression", "outage", "how-to", "billing", "onboarding", "security", "feature")

# Weighted choices: (value, weight).
SEVERITIES = (("critical", 3), ("high", 15), ("medium", 50), ("low", 32))
KINDS = (
    ("question", 40), ("incident", 25), ("guidance_request", 15), ("change_request", 15),
    ("workshop_request", 5),
)  # fmt: skip
TIERS = (("self_service", 8), ("community", 47), ("expert", 30), ("engineering", 15))
CHANNELS = (("portal", 50), ("email", 30), ("api", 10), ("desk", 10))
STATUS_OLD = (("closed", 86), ("resolved", 8), ("pending", 3), ("waiting_on_customer", 2),
              ("in_progress", 1))  # fmt: skip
STATUS_RECENT = (("closed", 35), ("resolved", 25), ("in_progress", 12), ("assigned", 8),
                 ("waiting_on_customer", 10), ("pending", 5), ("open", 5))  # fmt: skip
STATUS_NEW = (("new", 22), ("awaiting_approval", 10), ("open", 12), ("assigned", 16),
              ("in_progress", 18), ("waiting_on_customer", 10), ("pending", 2),
              ("resolved", 8), ("closed", 2))  # fmt: skip
FINISHED = frozenset({"resolved", "closed"})
UNROUTED = frozenset({"new", "awaiting_approval"})
WITH_ASSIGNEE = frozenset(
    {"assigned", "in_progress", "waiting_on_customer", "pending", "resolved", "closed"}
)
EXTRA_MESSAGES = {
    "new": (0, 0), "awaiting_approval": (0, 0), "open": (0, 1), "assigned": (0, 2),
    "in_progress": (1, 3), "waiting_on_customer": (1, 4), "pending": (2, 4),
    "resolved": (2, 5), "closed": (2, 6),
}  # fmt: skip

TICKET_BATCH = 5000


# ---------------------------------------------------------------- the bench database


def _configured(name: str) -> str | None:
    """A variable as the settings resolve it: the environment, then var/embedded.env."""
    value = os.environ.get(name)
    if value:
        return value
    from supportdesk import embedded

    env_file = embedded.env_file(var_dir())
    if env_file.exists():
        for line in env_file.read_text().splitlines():
            key, _, value = line.partition("=")
            if key.strip() == name and value.strip():
                return value.strip()
    return None


def var_dir() -> Path:
    return Path(os.environ.get("SUPPORTDESK_VAR_DIR", str(ROOT / "var")))


def source_database_url() -> str:
    """The database the project would use (the development one); the bench uses its server."""
    from supportdesk import embedded

    return _configured("DATABASE_URL") or embedded.default_database_url(var_dir())


def source_redis_url() -> str:
    from supportdesk import embedded

    return _configured("REDIS_URL") or embedded.default_redis_url(var_dir())


def with_database(url: str, name: str) -> str:
    """The same server, another database: only the path of the URL changes."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def bench_database_url() -> str:
    return with_database(source_database_url(), BENCH_DATABASE)


def ensure_database(url: str) -> bool:
    """Create the bench database on the server of `url` when missing; True if created."""
    import psycopg
    from psycopg import sql

    try:
        conn = psycopg.connect(with_database(url, "postgres"), autocommit=True)
    except psycopg.OperationalError:
        conn = psycopg.connect(source_database_url(), autocommit=True)
    with conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DATABASE]
        ).fetchone()
        if exists:
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(BENCH_DATABASE)))
        return True


def setup_django(database_url: str) -> None:
    """Point this process (and the children it starts) at the bench database, then set up."""
    os.environ["DATABASE_URL"] = database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS_MODULE
    # DEBUG would keep every bulk INSERT's text in connection.queries.
    os.environ["DEBUG"] = "false"
    import django

    django.setup()
    from django.conf import settings

    name = settings.DATABASES["default"]["NAME"]
    if name != BENCH_DATABASE:
        raise SystemExit(f"Refusing to run against {name!r}: expected {BENCH_DATABASE!r}.")


def prepare_bench_database() -> str:
    """Create, point Django at and migrate the bench database; return its URL."""
    url = bench_database_url()
    created = ensure_database(url)
    setup_django(url)
    from django.core.management import call_command

    print(f"{'created' if created else 'using'} database {BENCH_DATABASE}; migrating", flush=True)
    call_command("migrate", interactive=False, verbosity=0)
    return url


# ---------------------------------------------------------------- random data


def pick(rng: random.Random, table: Sequence[tuple[str, int]]) -> str:
    return rng.choices([v for v, _ in table], weights=[w for _, w in table])[0]


def person_name(n: int) -> tuple[str, str]:
    return FIRST_NAMES[n % len(FIRST_NAMES)], LAST_NAMES[(n // len(FIRST_NAMES)) % len(LAST_NAMES)]


@dataclass
class Cast:
    """Who takes part: loaded (or found) before any ticket is written."""

    community_ids: list[int]
    community_weights: list[float]
    representatives: dict[int, list[int]]  # community id -> user ids
    members: dict[int, list[int]]
    agents: list[int]
    category_tiers: list[tuple[int, str]]  # (category id, default tier)


def _users(specs: list[tuple[str, bool, int]]) -> dict[str, int]:
    """Create users (email, is_staff, n) that do not exist yet; return email -> id."""
    from django.contrib.auth.hashers import make_password

    from core.models import User

    unusable = make_password(None)  # token auth only: no password hashing for 600 people
    now = datetime.now(UTC)
    new = []
    for email, is_staff, n in specs:
        first, last = person_name(n)
        new.append(
            User(
                email=email,
                first_name=first,
                last_name=last,
                is_staff=is_staff,
                password=unusable,
                date_joined=now - timedelta(days=400),
            )
        )
    User.objects.bulk_create(new, ignore_conflicts=True)
    emails = [email for email, _, _ in specs]
    return dict(User.objects.filter(email__in=emails).values_list("email", "id"))


def ensure_cast() -> Cast:
    """Plans, communities, people, memberships and categories; creates whatever is missing."""
    from decimal import Decimal

    from communities.models import Community, Membership, ServicePlan
    from tickets.models import Category

    ServicePlan.objects.bulk_create(
        [
            ServicePlan(
                name=name,
                slug=name.lower(),
                position=i,
                uptime_guarantee=Decimal(uptime),
                downtime_credit_percent=credit,
                maintenance_window="Sunday 02:00-04:00 UTC",
            )
            for i, (name, uptime, credit) in enumerate(PLANS)
        ],
        ignore_conflicts=True,
    )
    plans = list(
        ServicePlan.objects.filter(slug__in=[p[0].lower() for p in PLANS]).order_by("position")
    )
    year_ago = datetime.now(UTC) - timedelta(days=400)
    Community.objects.bulk_create(
        [
            Community(
                name=name,
                slug=community_slug(i),
                time_zone=TIME_ZONES[i % len(TIME_ZONES)],
                service_plan=plans[i % len(plans)],
                created_at=year_ago,
            )
            for i, name in enumerate(COMMUNITIES)
        ],
        ignore_conflicts=True,
    )
    communities = dict(
        Community.objects.filter(slug__in=[community_slug(i) for i in range(len(COMMUNITIES))])
        .values_list("slug", "id")
    )  # fmt: skip
    community_ids = [communities[community_slug(i)] for i in range(len(COMMUNITIES))]

    specs: list[tuple[str, bool, int]] = [
        (agent_email(n), True, n + 7) for n in range(1, AGENTS + 1)
    ]
    roles: list[tuple[str, int, str]] = []  # email, community id, role
    for i, community_id in enumerate(community_ids, start=1):
        for r in range(1, REPRESENTATIVES_PER_COMMUNITY + 1):
            email = representative_email(i, r)
            specs.append((email, False, i * 31 + r))
            roles.append((email, community_id, "representative"))
        for m in range(1, MEMBERS_PER_COMMUNITY + 1):
            email = f"member{i:02d}-{m:02d}@{BENCH_EMAIL_DOMAIN}"
            specs.append((email, False, i * 37 + m))
            roles.append((email, community_id, "member"))
    # A few consultants work for two communities.
    for c in range(1, 6):
        email = f"consultant{c:02d}@{BENCH_EMAIL_DOMAIN}"
        specs.append((email, False, c * 11))
        roles.append((email, community_ids[c - 1], "member"))
        roles.append((email, community_ids[c + 9], "member"))
    user_ids = _users(specs)
    Membership.objects.bulk_create(
        [
            Membership(user_id=user_ids[email], community_id=community_id, role=role,
                       created_at=year_ago)
            for email, community_id, role in roles
        ],
        ignore_conflicts=True,
    )  # fmt: skip

    for name, parent, tier in CATEGORIES:
        slug = name.lower().replace(" ", "-")
        Category.objects.get_or_create(
            slug=slug,
            defaults={
                "name": name,
                "default_tier": tier,
                "parent": Category.objects.get(name=parent) if parent else None,
            },
        )
    category_tiers = list(Category.objects.values_list("id", "default_tier").order_by("id"))

    representatives: dict[int, list[int]] = {c: [] for c in community_ids}
    members: dict[int, list[int]] = {c: [] for c in community_ids}
    for user_id, community_id, role in Membership.objects.filter(
        community_id__in=community_ids
    ).values_list("user_id", "community_id", "role"):
        (representatives if role == "representative" else members)[community_id].append(user_id)
    agents = sorted(user_ids[agent_email(n)] for n in range(1, AGENTS + 1))
    # A few large communities and a long tail, as in real life (Zipf-like).
    weights = [1 / (rank + 1) ** 0.8 for rank in range(len(community_ids))]
    return Cast(community_ids, weights, representatives, members, agents, category_tiers)


def community_slug(i: int) -> str:
    return COMMUNITIES[i].lower().replace(" ", "-")


def agent_email(n: int) -> str:
    return f"agent{n:02d}@{BENCH_EMAIL_DOMAIN}"


def representative_email(community_number: int, n: int = 1) -> str:
    """The n-th representative of the community_number-th community (both from 1)."""
    return f"rep{community_number:02d}-{n}@{BENCH_EMAIL_DOMAIN}"


def created_at(rng: random.Random, now: datetime) -> datetime:
    """A moment in the past year: more recent traffic, office hours, quieter weekends."""
    while True:
        days = int(365 * rng.random() ** 1.3)
        if rng.random() < 0.85:
            seconds = rng.uniform(7 * 3600, 18 * 3600)
        else:
            seconds = rng.uniform(0, 24 * 3600)
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        moment = midnight - timedelta(days=days) + timedelta(seconds=seconds)
        if moment >= now:
            continue
        if moment.weekday() >= 5 and rng.random() < 0.7:
            continue
        return moment


def status_for(rng: random.Random, age: timedelta) -> str:
    if age > timedelta(days=30):
        return pick(rng, STATUS_OLD)
    if age > timedelta(days=5):
        return pick(rng, STATUS_RECENT)
    return pick(rng, STATUS_NEW)


def text(rng: random.Random) -> tuple[str, str, str]:
    """(kind, subject, description)."""
    kind = pick(rng, KINDS)
    product = rng.choice(PRODUCTS)
    problem = rng.choice(PROBLEMS)
    if kind == "workshop_request":
        subject = f"Workshop on {product} for our team"
    elif kind == "guidance_request":
        subject = f"How should we set up {product}?"
    elif kind == "change_request":
        subject = f"Please change the settings of {product}"
    elif kind == "question":
        subject = f"Question: why {product} {problem}"
    else:
        subject = f"{product[0].upper()}{product[1:]} {problem}"
    details = " ".join(rng.sample(DETAILS, k=rng.randint(2, 4)))
    description = (
        f"Hello,\n\nSince {rng.randint(1, 28)} days ago {product} {problem}. {details}\n"
        f"About {rng.randint(1, 300)} people are affected.\n\nBest regards"
    )
    return kind, subject[:200], description


@dataclass
class Plan:
    """One ticket to insert, and the rows that hang off it."""

    ticket: Any
    messages: list[tuple[int, str, str, str, datetime]]  # author, kind, body, channel, at


def plan_ticket(rng: random.Random, cast: Cast, now: datetime, opened: datetime) -> Plan:
    from tickets.models import Ticket

    community_id = rng.choices(cast.community_ids, weights=cast.community_weights)[0]
    by_representative = rng.random() < 0.35
    pool = cast.representatives if by_representative else cast.members
    requester = rng.choice(pool[community_id])
    status = status_for(rng, now - opened)
    if status == "awaiting_approval" and by_representative:
        status = "new"
    kind, subject, description = text(rng)
    severity = pick(rng, SEVERITIES)
    channel = pick(rng, CHANNELS)
    category_id: int | None = None
    tier = "self_service"
    if status not in UNROUTED:
        category_id, tier = rng.choice(cast.category_tiers)
        tier = "emergency" if severity == "critical" else pick(rng, TIERS)
    assignee = rng.choice(cast.agents) if status in WITH_ASSIGNEE else None

    # The conversation, then the timestamps that follow from it.
    low, high = EXTRA_MESSAGES[status]
    count = rng.randint(low, high)
    # Most conversations last a day or two, a few drag on for weeks; open ones run until now.
    lifetime = timedelta(hours=min(rng.lognormvariate(3.4, 1.2), 24 * 60))
    span = max(now - opened if status not in FINISHED else min(now - opened, lifetime),
               timedelta(minutes=5))  # fmt: skip
    last = opened
    responded: datetime | None = None
    # The first message is the description, on the ticket's channel, as ticket_open writes it.
    messages = [(requester, "public", description, channel, opened)]
    reply_channel = channel if channel in ("portal", "email") else "portal"
    for n in range(count):
        gap = span * rng.uniform(0.2, 1.0) / count
        last = min(last + gap, now)
        agent = assignee or rng.choice(cast.agents)
        if n % 2 == 0:
            if rng.random() < 0.2:
                messages.append((agent, "internal", rng.choice(NOTES), "desk", last))
            else:
                messages.append((agent, "public", rng.choice(REPLIES), "desk", last))
                responded = responded or last
        else:
            messages.append((requester, "public", rng.choice(REPLIES), reply_channel, last))
    changed = min(last + span * rng.uniform(0, 0.1), now) if status not in UNROUTED else opened
    resolved = changed if status in ("resolved", "closed") else None
    closed = min(changed + timedelta(days=rng.uniform(0, 7)), now) if status == "closed" else None
    if status in WITH_ASSIGNEE and responded is None and status != "assigned":
        responded = min(opened + timedelta(minutes=rng.uniform(5, 600)), changed)
    ticket = Ticket(
        community_id=community_id,
        requester_id=requester,
        subject=subject,
        description=description,
        kind=kind,
        severity=severity,
        tier=tier,
        status=status,
        category_id=category_id,
        assignee_id=assignee,
        channel=channel,
        tags=rng.sample(TAGS, k=rng.choice((0, 0, 0, 1, 1, 2))),
        created_at=opened,
        updated_at=closed or changed,
        status_changed_at=closed or changed,
        first_responded_at=responded,
        resolved_at=resolved,
        closed_at=closed,
    )
    return Plan(ticket=ticket, messages=messages)


# ---------------------------------------------------------------- loading


def reset() -> None:
    """Empty every table the bench fills (all the app tables of this private database)."""
    from django.db import connection

    keep = {"django_migrations", "django_content_type", "auth_permission"}
    tables = sorted(
        t for t in connection.introspection.django_table_names(only_existing=True) if t not in keep
    )
    with connection.cursor() as cursor:
        quoted = ", ".join(connection.ops.quote_name(t) for t in tables)
        cursor.execute(f"TRUNCATE {quoted} CASCADE")
        # As migration tickets/0002 does: references start at SD-1001.
        cursor.execute("ALTER TABLE tickets_ticket ALTER COLUMN id RESTART WITH 1001")
    print(f"truncated {len(tables)} tables", flush=True)


def _copy(cursor: Any, statement: str, rows: Iterator[tuple[Any, ...]]) -> int:
    count = 0
    with cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def load(count: int, *, seed: int) -> dict[str, int]:
    """Insert `count` tickets with their messages and events, in batches; return row counts."""
    from django.db import connection, transaction

    from tickets.models import Ticket

    rng = random.Random(seed)
    cast = ensure_cast()
    now = datetime.now(UTC)
    totals = {"tickets": 0, "messages": 0, "events": 0}
    with connection.cursor() as cursor:
        # Bench data can be rebuilt; don't wait for the WAL flush of every batch.
        cursor.execute("SET synchronous_commit TO off")
    started = time.monotonic()
    # Ids grow with time, as they do in production: draw every moment first, oldest first.
    moments = sorted(created_at(rng, now) for _ in range(count))
    while totals["tickets"] < count:
        done = totals["tickets"]
        size = min(TICKET_BATCH, count - done)
        plans = [plan_ticket(rng, cast, now, opened) for opened in moments[done : done + size]]
        with transaction.atomic():
            tickets = Ticket.objects.bulk_create([p.ticket for p in plans], batch_size=size)
            raw = connection.connection  # the psycopg connection under Django's wrapper
            assert raw is not None
            with raw.cursor() as cursor:
                totals["messages"] += _copy(
                    cursor,
                    "COPY tickets_message (ticket_id, author_id, kind, body, channel, created_at)"
                    " FROM STDIN",
                    (
                        (t.pk, *message)
                        for p, t in zip(plans, tickets, strict=True)
                        for message in p.messages
                    ),
                )
                totals["events"] += _copy(
                    cursor,
                    "COPY tickets_ticketevent (ticket_id, actor_id, kind, data, created_at)"
                    " FROM STDIN",
                    (
                        (
                            t.pk, t.requester_id, "opened",
                            json.dumps({"status": _opened_status(t), "channel": t.channel}),
                            t.created_at,
                        )
                        for t in tickets
                    ),
                )  # fmt: skip
        totals["tickets"] += size
        elapsed = time.monotonic() - started
        print(
            f"  {totals['tickets']:>7} tickets, {totals['messages']:>7} messages"
            f"  ({totals['tickets'] / elapsed:,.0f} tickets/s)",
            flush=True,
        )
    return totals


def _opened_status(ticket: Any) -> str:
    return "awaiting_approval" if ticket.status == "awaiting_approval" else "new"


def analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load_tickets", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--tickets", type=int, default=100_000, help="how many (default 100000)")
    parser.add_argument("--reset", action="store_true", help="truncate the bench data first")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)

    started = time.monotonic()
    prepare_bench_database()
    from django.db import connection

    from tickets.models import Ticket

    if args.reset:
        reset()
    existing = Ticket.objects.count()
    result: dict[str, Any] = {
        "database": BENCH_DATABASE,
        "requested": args.tickets,
        "existing": existing,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if existing >= args.tickets:
        print(f"{BENCH_DATABASE} already holds {existing} tickets (>= {args.tickets}): skipping")
        ensure_cast()  # cheap, and makes sure the people the API bench signs in as exist
        result.update(skipped=True, seconds=None)
    else:
        missing = args.tickets - existing
        print(f"loading {missing} tickets into {BENCH_DATABASE} ({existing} there already)")
        load_started = time.monotonic()
        totals = load(missing, seed=args.seed + existing)
        inserted = time.monotonic() - load_started
        analyze_started = time.monotonic()
        analyze()
        analyzed = time.monotonic() - analyze_started
        total = time.monotonic() - started
        result.update(
            skipped=False,
            seconds=round(total, 1),
            insert_seconds=round(inserted, 1),
            analyze_seconds=round(analyzed, 1),
            **totals,
        )
        print(
            f"loaded {totals['tickets']} tickets, {totals['messages']} messages and "
            f"{totals['events']} events in {inserted:.1f} s (+ ANALYZE {analyzed:.1f} s); "
            f"{total:.1f} s in all, migrations included"
        )
    result["tickets_now"] = Ticket.objects.count()
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        row = cursor.fetchone()
        result["postgres"] = row[0] if row else "?"
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
