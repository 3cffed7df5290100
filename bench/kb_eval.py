"""How well the knowledge-base search ranks: MRR@10 and hit@1/3/10 over a question set.

    python -m bench.kb_eval DIR [--modes lexical,semantic,blend] [--no-doc] [--json FILE]

DIR holds `corpus.jsonl` ({"_id", "title", "text"} per line), `queries.jsonl` ({"_id",
"text"}) and `qrels.tsv` (query-id, corpus-id, score; a header line), like
/work/shared/data/kb/stackfaq-dev/. Each corpus entry becomes a published public article
(title; the text as its body) in a scratch database of its own, `supportdesk_bench_kb_eval`,
on the same server as DATABASE_URL (dropped, created and migrated afresh on every run).
Articles are embedded the way a worker does it (`embed_pending`), and each query goes
through `knowledgebase.search.services.search`, the service behind `/api/v1/kb/search/`,
as a signed-in community member, in three modes: full text alone, semantic alone, and the
product as installed (the blend; full text alone when the model is not installed).

Run it inside `python -m supportdesk.embedded exec --`. Writes the `kb-eval` block of
docs/benchmarks.md (bench/docs.py).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.docs import write_block
from bench.load_tickets import RESULTS_DIR, SETTINGS_MODULE, source_database_url, with_database

EVAL_DATABASE = "supportdesk_bench_kb_eval"
TARGETS = {"lexical": 0.83, "blend": 0.94}
LABELS = {
    "lexical": "full text alone",
    "semantic": "semantic alone",
    "blend": "product as installed (blend)",
}


def read_folder(
    folder: Path,
) -> tuple[list[dict[str, str]], list[dict[str, str]], dict[str, set[str]]]:
    corpus = [
        json.loads(line)
        for line in (folder / "corpus.jsonl").read_text().splitlines()
        if line.strip()
    ]
    queries = [
        json.loads(line)
        for line in (folder / "queries.jsonl").read_text().splitlines()
        if line.strip()
    ]
    relevant: dict[str, set[str]] = defaultdict(set)
    for number, line in enumerate((folder / "qrels.tsv").read_text().splitlines()):
        fields = line.split("\t")
        if number == 0 and not fields[-1].strip().lstrip("-").isdigit():
            continue  # the header
        if len(fields) >= 2 and (len(fields) < 3 or float(fields[2]) > 0):
            relevant[fields[0]].add(fields[1])
    return corpus, queries, relevant  # fmt: skip


def fresh_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as conn:
        name = sql.Identifier(EVAL_DATABASE)
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(name))


def setup() -> None:
    url = with_database(source_database_url(), EVAL_DATABASE)
    fresh_database(url)
    os.environ.update(DATABASE_URL=url, DJANGO_SETTINGS_MODULE=SETTINGS_MODULE, DEBUG="false")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def load(corpus: list[dict[str, str]]) -> tuple[dict[int, str], Any]:
    """The corpus as published public articles; returns (article id → corpus id, reader)."""
    from django.utils.text import slugify

    from communities.models import Community, Membership, ServicePlan
    from core.models import User
    from knowledgebase.models import Article, Audience
    from knowledgebase.states import ArticleStatus

    author = User.objects.create_user("kb-eval-author@example.org", is_staff=True)
    plan = ServicePlan.objects.create(
        name="Eval", slug="eval", uptime_guarantee=99, downtime_credit_percent=0
    )
    community = Community.objects.create(name="Eval", slug="eval", service_plan=plan)
    reader = User.objects.create_user("kb-eval-reader@example.org")
    Membership.objects.create(user=reader, community=community, role="member")
    ids: dict[int, str] = {}
    for entry in corpus:
        article = Article.objects.create(
            title=entry["title"][:200],
            slug=slugify(f"{entry['_id']}-{entry['title']}")[:200],
            body=entry["text"],
            audience=Audience.PUBLIC,
            status=ArticleStatus.PUBLISHED,
            author=author,
            owner=author,
        )
        ids[article.pk] = entry["_id"]
    return ids, reader  # fmt: skip


def evaluate(queries: list[dict[str, str]], relevant: dict[str, set[str]], ids: dict[int, str],
             reader: Any, mode: str) -> dict[str, Any]:  # fmt: skip
    from knowledgebase.search.services import search

    reciprocal = hit1 = hit3 = hit10 = 0.0
    latencies = []
    for query in queries:
        started = time.perf_counter()
        result = search(user=reader, q=query["text"][:200], mode=mode, page_size=10, log=False)
        latencies.append((time.perf_counter() - started) * 1000)
        ranked = [ids[hit.article_id] for hit in result.hits]
        wanted = relevant.get(query["_id"], set())
        for position, corpus_id in enumerate(ranked[:10], start=1):
            if corpus_id in wanted:
                reciprocal += 1 / position
                hit1 += position <= 1
                hit3 += position <= 3
                hit10 += 1
                break
    n = len(queries) or 1
    latencies.sort()
    return {
        "mrr10": round(reciprocal / n, 3),
        "hit1": round(hit1 / n, 3),
        "hit3": round(hit3 / n, 3),
        "hit10": round(hit10 / n, 3),
        "p50_ms": round(latencies[len(latencies) // 2], 1) if latencies else None,
    }


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "## Knowledge-base search quality",
        "",
        f"`python -m bench.kb_eval {result['folder']}` (inside `python -m supportdesk.embedded exec --`), "
        f"measured on **{result['measured_at']}**: {result['articles']} articles, {result['queries']} "
        f"questions, each through `knowledgebase.search.services.search` as a community member. "
        f"Embedding the {result['articles']} articles took {result['embed_seconds']:.1f} s "
        f"(model load included).",
        "",
        "| variant | MRR@10 | hit@1 | hit@3 | hit@10 | target | met? |",
        "|---|---|---|---|---|---|---|",
    ]
    for mode, figures in result["modes"].items():
        target = TARGETS.get(mode)
        met = "" if target is None else ("met" if figures["mrr10"] >= target else "**not met**")
        lines.append(
            f"| {LABELS[mode]} | **{figures['mrr10']:.3f}** | {figures['hit1']:.3f} | "
            f"{figures['hit3']:.3f} | {figures['hit10']:.3f} | "
            f"{'' if target is None else f'MRR ≥ {target:.2f}'} | {met} |"
        )
    if not result["semantic"]:
        lines += [
            "",
            "The sentence-embedding model was not installed: every mode ran on full text.",
        ]
    lines += [
        "",
        "The variants tried on the way, and their figures, are in docs/knowledgebase.md (Search).",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.kb_eval", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("folder", type=Path)
    parser.add_argument("--modes", default="lexical,semantic,blend")
    parser.add_argument("--json", type=Path, default=RESULTS_DIR / "kb-eval.json")
    parser.add_argument("--no-doc", action="store_true", help="do not touch docs/benchmarks.md")
    args = parser.parse_args(argv)
    corpus, queries, relevant = read_folder(args.folder)
    setup()
    ids, reader = load(corpus)
    from knowledgebase.search import embeddings
    from knowledgebase.search.services import embed_pending

    started = time.perf_counter()
    embedded = embed_pending()
    embed_seconds = time.perf_counter() - started
    semantic = embeddings.available() and embedded > 0
    print(
        f"{len(ids)} articles, {len(queries)} queries; {embedded} embedded in {embed_seconds:.1f} s",
        flush=True,
    )
    modes: dict[str, Any] = {}
    for mode in args.modes.split(","):
        modes[mode] = evaluate(queries, relevant, ids, reader, mode)
        print(f"{LABELS[mode]:<30} {modes[mode]}", flush=True)
    result = {
        "measured_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "folder": str(args.folder),
        "articles": len(ids),
        "queries": len(queries),
        "embed_seconds": embed_seconds,
        "semantic": semantic,
        "modes": modes,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2))
    page = markdown(result)
    print("\n" + page)
    if not args.no_doc:
        write_block("kb-eval", page)
    missed = [m for m, t in TARGETS.items() if m in modes and modes[m]["mrr10"] < t]
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
