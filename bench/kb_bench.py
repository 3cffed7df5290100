"""Knowledge-base search and suggestions over real HTTP, at 100k articles.

    python -m bench.kb_bench [--articles 100000] [--duration 20] [--concurrency 4] [--reset]

Fills a scratch database of its own, `supportdesk_bench_kb`, on the same server as
DATABASE_URL (created and migrated when missing; with --reset emptied first) with generated
articles: help-desk titles, summaries, tags and bodies from a fixed vocabulary, 90 % public,
5 % staff only, 5 % restricted to one of 20 communities. The database's trigger indexes them
as they are inserted; then every article is embedded the way the worker does it
(`embed_pending`, batches of 128) and the time is reported. gunicorn (2 sync workers) serves
the database; `--concurrency` client threads, signed in as a community member, call for
`--duration` seconds each:

- `GET /api/v1/kb/search/?q=` with questions drawn from 4,000 generated ones, and
- `GET /api/v1/kb/suggest/?q=` with the same questions cut after a random word, as typed,

and p50 / p95 latency is reported, semantic scoring included (the model loads in each web
worker before the clock starts). Writes the `kb` block of docs/benchmarks.md.
Run it inside `python -m supportdesk.embedded exec --`.
"""

from __future__ import annotations

import argparse
import json
import os
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
from bench.load_tickets import (
    RESULTS_DIR,
    SETTINGS_MODULE,
    source_database_url,
    source_redis_url,
    with_database,
)

KB_DATABASE = "supportdesk_bench_kb"
SEARCH_P95_MS = 50.0
SUGGEST_P95_MS = 30.0
COMMUNITIES = 20

PRODUCTS = (
    "VPN", "email", "calendar", "file share", "backup service", "cluster", "data portal",
    "single sign-on", "wiki", "ticket portal", "printer", "laptop", "phone", "video calls",
    "mailing list", "object storage", "database service", "web hosting", "DNS", "firewall",
    "GPU nodes", "notebook server", "license server", "password manager", "chat",
    "survey tool", "analytics dashboard", "archive", "code repository", "CI runners",
)  # fmt: skip
ACTIONS = (
    ("reset", "resetting"), ("configure", "configuring"), ("install", "installing"),
    ("remove", "removing"), ("share", "sharing"), ("restore", "restoring"),
    ("export", "exporting"), ("import", "importing"), ("renew", "renewing"),
    ("migrate", "migrating"), ("connect", "connecting"), ("update", "updating"),
    ("request", "requesting"), ("cancel", "cancelling"), ("recover", "recovering"),
    ("enable", "enabling"), ("disable", "disabling"), ("sync", "syncing"),
    ("schedule", "scheduling"), ("monitor", "monitoring"),
)  # fmt: skip
OBJECTS = (
    "password", "account", "quota", "certificate", "access key", "shared folder", "alias",
    "group membership", "two-factor device", "profile", "mailbox", "forwarding rule",
    "snapshot", "project space", "API token", "SSH key", "storage bucket", "job queue",
    "signature", "recovery codes", "guest access", "retention policy", "domain record",
    "billing contact", "usage report", "language setting", "time zone", "notification",
    "integration", "webhook",
)  # fmt: skip
PROBLEMS = (
    "is slow", "fails with a timeout", "shows an error", "is not syncing", "keeps asking for a password",
    "was deleted by mistake", "is full", "is locked", "expired", "cannot be found",
    "looks wrong", "stopped working after the update", "is missing", "is duplicated",
)  # fmt: skip
FILLER = (
    "open the settings page and choose the option described below",
    "this usually takes a few minutes to apply everywhere",
    "if the problem continues contact the service desk with the exact error message",
    "administrators can change this for the whole community",
    "the change is logged and can be undone within thirty days",
    "make sure you are signed in with your institutional account",
    "older clients may need to be restarted before they notice",
    "the limit depends on your service plan",
    "you receive a confirmation email once it is done",
    "keep a copy of anything important before you start",
    "on mobile devices the menu is under your profile picture",
    "the status page shows any known outage",
)  # fmt: skip
QUESTION_FORMS = (
    "how do I {a} my {o} on the {p}", "{p} {o} {pr}", "can't {a} {o} in {p}",
    "why my {p} {o} {pr}", "{a} {o} {p}", "help with {o} for {p}",
    "what should I do when the {o} {pr}", "where can I {a} the {p} {o}",
)  # fmt: skip


def article(rng: random.Random, n: int) -> dict[str, Any]:
    product, (action, acting), obj = rng.choice(PRODUCTS), rng.choice(ACTIONS), rng.choice(OBJECTS)
    problem = rng.choice(PROBLEMS)
    if rng.random() < 0.5:
        title = f"{action.capitalize()} your {obj} in the {product}"
        kind = "how_to"
    else:
        title = f"{product.capitalize()}: the {obj} {problem}"
        kind = "troubleshooting"
    steps = [
        f"To {action} the {obj}, {rng.choice(FILLER)}.",
        f"When {acting} a {obj} in the {product}, {rng.choice(FILLER)}.",
        *(f"{rng.choice(FILLER).capitalize()}." for _ in range(rng.randint(2, 5))),
        f"If the {obj} {rng.choice(PROBLEMS)}, {rng.choice(FILLER)}.",
    ]
    return {
        "title": f"{title} ({n})",
        "slug": f"kb-bench-{n}",
        "summary": f"{acting.capitalize()} the {obj} of the {product}.",
        "tags": [product.split()[0].lower(), obj.split()[0].lower()],
        "body": "\n\n".join(steps),
        "kind": kind,
    }


def question(rng: random.Random) -> str:
    (action, _), obj, product = rng.choice(ACTIONS), rng.choice(OBJECTS), rng.choice(PRODUCTS)
    return rng.choice(QUESTION_FORMS).format(a=action, o=obj, p=product, pr=rng.choice(PROBLEMS))


def ensure_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as conn:
        if not conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [KB_DATABASE]
        ).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(KB_DATABASE)))


def setup(reset: bool) -> None:
    url = with_database(source_database_url(), KB_DATABASE)
    ensure_database(url)
    os.environ.update(DATABASE_URL=url, DJANGO_SETTINGS_MODULE=SETTINGS_MODULE, DEBUG="false")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", interactive=False, verbosity=0)
    if reset:
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE knowledgebase_article, kbsearch_searchlog CASCADE")


def load(total: int, seed: int = 8) -> float:
    """Insert articles up to `total`; returns the seconds it took (0 when already there)."""
    from communities.models import Community, Membership, ServicePlan
    from core.models import User
    from knowledgebase.models import Article, Audience
    from knowledgebase.states import ArticleStatus

    author, _ = User.objects.get_or_create(
        email="kb-bench-author@bench.example", defaults={"is_staff": True}
    )
    plan, _ = ServicePlan.objects.get_or_create(
        slug="kb-bench",
        defaults={"name": "KB bench", "uptime_guarantee": 99, "downtime_credit_percent": 0},
    )
    communities = [
        Community.objects.get_or_create(
            slug=f"kb-bench-{i}", defaults={"name": f"KB bench {i}", "service_plan": plan}
        )[0]
        for i in range(COMMUNITIES)
    ]
    reader, _ = User.objects.get_or_create(email="kb-bench-reader@bench.example")
    Membership.objects.get_or_create(
        user=reader, community=communities[0], defaults={"role": "member"}
    )
    have = Article.objects.count()
    if have >= total:
        return 0.0
    rng = random.Random(seed + have)
    started = time.perf_counter()
    through = Article.communities.through
    batch = 2000
    for start in range(have, total, batch):
        rows = []
        for n in range(start, min(start + batch, total)):
            data = article(rng, n)
            roll = rng.random()
            audience = (
                Audience.PUBLIC
                if roll < 0.9
                else Audience.STAFF
                if roll < 0.95
                else Audience.RESTRICTED
            )
            rows.append(Article(**data, body_html="", audience=audience, status=ArticleStatus.PUBLISHED,
                                author=author, owner=author))  # fmt: skip
        created = Article.objects.bulk_create(rows)
        restricted = [
            through(article_id=row.pk, community_id=rng.choice(communities).pk)
            for row in created
            if row.audience == Audience.RESTRICTED
        ]
        through.objects.bulk_create(restricted)
        print(f"  {start + len(rows):,} articles", flush=True)
    return time.perf_counter() - started  # fmt: skip


def embed_all(budget: float | None) -> tuple[int, float]:
    """Embed what is not embedded yet, for at most `budget` seconds (None: all of it)."""
    from knowledgebase.search.services import embed_pending

    started = time.perf_counter()
    stored = 0
    while budget is None or time.perf_counter() - started < budget:
        done = embed_pending(batch=128, limit=1024)
        stored += done
        if done:
            print(f"  {stored:,} embedded ({time.perf_counter() - started:.0f} s)", flush=True)
        if done < 1024:
            break
    return stored, time.perf_counter() - started


def fill_synthetic(seed: int = 5) -> int:
    """Give every article still without an embedding a copy of a real one with noise, so
    that the vector index holds as many vectors as articles. Only with --fill-synthetic,
    when embedding all of them takes longer than the machine has; the page says so."""
    import numpy as np
    from django.db import connection

    from knowledgebase.search import embeddings

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT embedding::text FROM kbsearch_articleindex WHERE embedded_at IS NOT NULL LIMIT 2000"
        )
        real = np.array([json.loads(row[0]) for row in cursor.fetchall()], dtype=np.float32)
        cursor.execute("SELECT article_id FROM kbsearch_articleindex WHERE embedded_at IS NULL")
        missing = [row[0] for row in cursor.fetchall()]
    if not len(real) or not missing:
        return 0
    rng = np.random.default_rng(seed)
    vector_column = embeddings.storage() == "vector"
    with connection.cursor() as cursor:
        # Filling 100k rows one HNSW insert at a time takes far longer than building the
        # index once afterwards.
        cursor.execute("DROP INDEX IF EXISTS kbsearch_embedding_hnsw")
        for start in range(0, len(missing), 5000):
            chunk = missing[start : start + 5000]
            base = real[rng.integers(0, len(real), len(chunk))]
            vectors = base + rng.normal(0, 0.03, base.shape).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            texts = ["[" + ",".join(f"{x:.6f}" for x in v) + "]" for v in vectors.tolist()]
            cast = "vector" if vector_column else "real[]"
            values = (
                texts if vector_column else [t.replace("[", "{").replace("]", "}") for t in texts]
            )
            cursor.execute(
                f"UPDATE kbsearch_articleindex i SET embedding = v.e::{cast}, "  # noqa: S608
                "embedded_hash = i.text_hash, embedded_at = now() "
                "FROM unnest(%s::bigint[], %s::text[]) AS v(id, e) WHERE i.article_id = v.id",
                [chunk, values],
            )
            print(f"  {start + len(chunk):,} synthetic embeddings", flush=True)
        if vector_column:
            cursor.execute("SET maintenance_work_mem = '512MB'")
            cursor.execute(
                "CREATE INDEX kbsearch_embedding_hnsw ON kbsearch_articleindex "
                "USING hnsw (embedding vector_cosine_ops)"
            )
            print("  vector index rebuilt", flush=True)
    return len(missing)


def embed_sample(size: int) -> dict[str, Any]:
    """The embedding rate measured now, on `size` articles' texts (what the worker embeds,
    batches of 128, nothing stored): the time for the whole knowledge base at this rate,
    when the articles were embedded earlier, or on a busier machine."""
    from knowledgebase.models import Article
    from knowledgebase.search import embeddings

    encode = embeddings.encoder()
    if encode is None or size <= 0:
        return {}
    texts = [
        embeddings.article_text(a.title, a.summary, a.tags, a.body)
        for a in Article.objects.order_by("pk").only("title", "summary", "tags", "body")[:size]
    ]
    encode(texts[:8])  # warm up
    started = time.perf_counter()
    for start in range(0, len(texts), 128):
        encode(texts[start : start + 128])
    seconds = time.perf_counter() - started
    print(f"  embedding sample: {len(texts)} articles in {seconds:.1f} s", flush=True)
    return {"articles": len(texts), "seconds": seconds, "threads": embeddings.torch_threads()}


def _reader_token() -> str:
    from rest_framework.authtoken.models import Token

    from core.models import User

    token, _ = Token.objects.get_or_create(
        user=User.objects.get(email="kb-bench-reader@bench.example")
    )
    return str(token.key)


def _load_calls(base: str, token: str, path: str, queries: list[str], concurrency: int,
                duration: float) -> Run:  # fmt: skip
    run = Run()
    lock = threading.Lock()
    stop_at = time.monotonic() + duration

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        local = Run()
        with requests.Session() as session:
            session.headers["Authorization"] = f"Token {token}"
            while time.monotonic() < stop_at:
                q = rng.choice(queries)
                t0 = time.perf_counter()
                try:
                    response = session.get(f"{base}{path}", params={"q": q}, timeout=30)
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


def _warm(base: str, token: str, workers: int) -> bool:
    """Load the model in every web worker before measuring; True if semantic search ran."""
    semantic = False
    with requests.Session() as session:
        session.headers["Authorization"] = f"Token {token}"
        threads_results: list[bool] = []

        def call() -> None:
            for _ in range(3):
                r = session.get(
                    f"{base}/api/v1/kb/search/", params={"q": "reset my password"}, timeout=600
                )
                threads_results.append(bool(r.status_code == 200 and r.json().get("semantic")))

        threads = [threading.Thread(target=call) for _ in range(workers * 3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        semantic = all(threads_results) and bool(threads_results)
    return semantic


def embedding_sentence(result: dict[str, Any]) -> str:
    per_article = result["embed_seconds"] / max(result["embedded"], 1)
    if not result.get("synthetic"):
        return (
            f"Embedding the whole knowledge base ({result['embedded']:,} articles, batches of 128, one "
            f"process): **{result['embed_seconds']:.0f} s** ({per_article * 1000:.1f} ms per article)."
        )
    return (
        f"Embedding: {result['embedded']:,} articles were embedded in {result['embed_seconds']:.0f} s "
        f"({per_article * 1000:.1f} ms per article, batches of 128, one process), so the whole knowledge "
        f"base would take about **{per_article * result['articles'] / 60:.0f} min** at that rate; the other "
        f"{result['synthetic']:,} articles were given noisy copies of real embeddings so that the vector "
        f"index held one per article for the latency figures."
    )


def sample_sentence(result: dict[str, Any]) -> str:
    sample = result.get("embed_sample") or {}
    if not sample:
        return ""
    per_article = sample["seconds"] / sample["articles"]
    return (
        f"Embedding rate measured at the time of this run on a sample of {sample['articles']:,} "
        f"articles (batches of 128, {sample['threads']} torch threads, nothing stored): "
        f"{per_article * 1000:.1f} ms per article, so the whole knowledge base "
        f"({result['articles']:,} articles) would take about **{per_article * result['articles'] / 60:.0f} min**."
    )


def markdown(result: dict[str, Any]) -> str:
    def row(label: str, figures: dict[str, Any], target: float) -> str:
        met = "met" if figures["p95_ms"] <= target and not figures["errors"] else "**not met**"
        return (
            f"| {label} | {figures['p50_ms']:.1f} / **{figures['p95_ms']:.1f} ms** "
            f"({figures['per_second']} req/s, {figures['errors']} errors) | p95 < {target:.0f} ms | {met} |"
        )

    return "\n".join(
        [
            "## Knowledge-base search and suggestions",
            "",
            f"`python -m bench.kb_bench` (inside `python -m supportdesk.embedded exec --`), measured on "
            f"**{result['measured_at']}**, {result['machine']['cores']} cores, {result['articles']:,} generated "
            f"articles (embeddings in {result['storage']}): a community member's token, gunicorn with "
            f"{result['workers']} sync workers, {result['concurrency']} client threads for {result['duration']:.0f} s "
            f"per endpoint, questions drawn from 4,000 generated ones (suggestions: cut after a random word). "
            f"Semantic scoring {'included' if result['semantic'] else '**not** included (model missing)'}.",
            "",
            "| endpoint | p50 / p95 | target | met? |",
            "|---|---|---|---|",
            row("`GET /api/v1/kb/search/?q=`", result["search"], SEARCH_P95_MS),
            row("`GET /api/v1/kb/suggest/?q=`", result["suggest"], SUGGEST_P95_MS),
            "",
            embedding_sentence(result),
            sample_sentence(result),
            f"Inserting them (the trigger indexing each): {result['load_seconds']:.0f} s."
            if result["load_seconds"]
            else "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.kb_bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--reset", action="store_true")
    parser.add_argument(
        "--embed-budget",
        type=float,
        default=None,
        help="seconds of embedding at most; the time for all is then extrapolated",
    )
    parser.add_argument(
        "--fill-synthetic",
        action="store_true",
        help="after the budget, give the rest noisy copies of real embeddings",
    )
    parser.add_argument(
        "--embed-sample",
        type=int,
        default=512,
        help="articles whose embedding is timed now (not stored) to give the current rate",
    )
    parser.add_argument("--json", type=Path, default=RESULTS_DIR / "kb.json")
    parser.add_argument("--no-doc", action="store_true", help="do not touch docs/benchmarks.md")
    args = parser.parse_args(argv)

    # The bulk embedding may use both cores; the web workers keep to one thread each.
    os.environ.setdefault("KB_SEARCH_TORCH_THREADS", str(os.cpu_count() or 1))
    setup(args.reset)
    load_seconds = load(args.articles)
    from knowledgebase.search import embeddings
    from knowledgebase.search.models import ArticleIndex
    from knowledgebase.search.services import refresh_lexemes

    embedded, embed_seconds = embed_all(args.embed_budget)
    previous = json.loads(args.json.read_text()) if args.json.exists() else {}
    if embedded == 0:  # already embedded by an earlier run: report that run's figure
        embedded, embed_seconds = previous.get("embedded", 0), previous.get("embed_seconds", 0.0)
    load_seconds = load_seconds or previous.get("load_seconds", 0.0)
    synthetic = fill_synthetic() if args.fill_synthetic else previous.get("synthetic", 0)
    refresh_lexemes()
    sample = embed_sample(args.embed_sample)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({**previous, "embedded": embedded, "embed_seconds": embed_seconds,
                                     "synthetic": synthetic, "load_seconds": load_seconds}))  # fmt: skip
    articles = ArticleIndex.objects.count()
    storage = (
        "pgvector" if embeddings.storage() == "vector" else "a real[] column, scored with numpy"
    )
    rng = random.Random(4)
    questions = [question(rng) for _ in range(4000)]
    typed = [" ".join(q.split()[: rng.randint(2, len(q.split()))]) for q in questions]
    token = _reader_token()

    redis_url = bench_redis_url(source_redis_url())
    os.environ["KB_SEARCH_TORCH_THREADS"] = "1"
    # A worker timeout long enough for a busy machine to load the model on its first search.
    with gunicorn(
        workers=args.workers, redis_url=redis_url, log_path=RESULTS_DIR / "kb-gunicorn.log",
        timeout=600, ready_timeout=120,
    ) as server:  # fmt: skip
        semantic = _warm(server.url, token, args.workers)
        search = _load_calls(
            server.url, token, "/api/v1/kb/search/", questions, args.concurrency, args.duration
        )
        print(f"search: {search.summary()}", flush=True)
        suggest = _load_calls(
            server.url, token, "/api/v1/kb/suggest/", typed, args.concurrency, args.duration
        )
        print(f"suggest: {suggest.summary()}", flush=True)

    result = {
        "measured_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "articles": articles,
        "storage": storage,
        "semantic": semantic,
        "embedded": embedded,
        "embed_seconds": embed_seconds,
        "synthetic": synthetic,
        "embed_sample": sample,
        "load_seconds": load_seconds,
        "workers": args.workers,
        "concurrency": args.concurrency,
        "duration": args.duration,
        "search": search.summary(),
        "suggest": suggest.summary(),
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2))
    page = markdown(result)
    print("\n" + page)
    if not args.no_doc:
        write_block("kb", page)
    return 1 if search.errors or suggest.errors else 0


if __name__ == "__main__":
    sys.exit(main())
