"""Search, suggestions, the embedding of articles, and the search log (docs/knowledgebase.md).

Ranking, in short: the full-text side takes every article matching any of the query's
lexemes ('english' stemming, stop words such as "how", "do", "I" dropped by the
dictionary), or whose title is trigram-similar to the query (typos, partial words), and
scores it with ts_rank over the weighted document (title > summary and tags > body), plus
the title's trigram similarity, plus small boosts when every word or the exact phrase
matches. The semantic side takes the nearest article embeddings. The two are blended:
KB_SEARCH_SEMANTIC_WEIGHT × cosine similarity + the rest × the full-text score divided by
the best full-text score of the query. Every candidate comes from the articles `user`
may read (`published_ids_sql`, the rule of `articles_visible_to`), published articles
only, before anything is ranked. The ranking is one prepared statement (`_RANKING_SQL`).
"""

from __future__ import annotations

import functools
import html
import logging
import re
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import psycopg
from django.conf import settings
from django.db import connection, transaction
from django.db.backends.utils import CursorDebugWrapper, CursorWrapper
from django.db.models import F
from django.utils import timezone

from knowledgebase.models import Article, Category
from knowledgebase.search import embeddings
from knowledgebase.search.errors import InvalidQuery, SearchNotFound, UnknownCategory
from knowledgebase.search.models import ArticleIndex, SearchLog, Source
from knowledgebase.selectors import articles_visible_to, published_ids_sql

if TYPE_CHECKING:
    import numpy as np
    from django.contrib.auth.models import AnonymousUser

    from core.models import User

logger = logging.getLogger(__name__)

MAX_QUERY_LENGTH = 200
PAGE_SIZE = 10
MAX_PAGE_SIZE = 50
# Candidates each side hands to the blend; results beyond it are not ranked.
POOL = 50
SUGGEST_POOL = 20
# Full-text candidates ranked per query at most (ts_rank costs about 20 µs per article).
CANDIDATES = 200
# Nearest embeddings taken before the visibility rule, per result wanted.
SEMANTIC_OVERFETCH = 2
SUGGEST_COUNT = 3
# ts_rank weights for D, C (body), B (summary, tags), A (title).
RANK_WEIGHTS = "{0.2,0.3,0.4,1.0}"
ALL_WORDS_BOOST = 0.1
PHRASE_BOOST = 0.1
# Typing "consecutive searches" into one suggestion log row: a suggestion request within
# this many seconds of the last one, whose text extends or shortens it, updates that row.
SUGGEST_COLLAPSE_SECONDS = 60

MODES = ("blend", "lexical", "semantic")


@dataclass(frozen=True)
class Hit:
    article_id: int
    title: str
    slug: str
    summary: str
    kind: str
    category: str | None
    score: float
    lexical: float
    semantic: float | None
    title_html: str = ""
    snippet_html: str = ""


@dataclass(frozen=True)
class SearchResult:
    query: str
    mode: str
    hits: list[Hit]
    total: int
    page: int
    page_size: int
    search_id: int | None = None
    semantic: bool = False

    @property
    def has_next(self) -> bool:
        return self.page * self.page_size < self.total


# ---------------------------------------------------------------- input


def clean_query(q: str | None) -> str:
    text = " ".join((q or "").split())
    if not text:
        raise InvalidQuery("Type something to search for.", field="q")
    if len(text) > MAX_QUERY_LENGTH:
        raise InvalidQuery(
            f"A search is at most {MAX_QUERY_LENGTH} characters ({len(text)} given).", field="q"
        )
    return text


def _category_ids(slug: str | None) -> list[int] | None:
    """The category and every category under it, or None for no scope."""
    if not slug:
        return None
    categories = list(Category.objects.values_list("pk", "slug", "parent_id"))
    root = next((pk for pk, s, _ in categories if s == slug), None)
    if root is None:
        raise UnknownCategory(f"No such category: {slug}.", field="category")
    found, frontier = {root}, [root]
    while frontier:
        children = [pk for pk, _, parent in categories if parent in frontier and pk not in found]
        found.update(children)
        frontier = children
    return sorted(found)


_PREFIX_WORD = re.compile(r"(\w{3,})$")
# A lexeme held by more articles than this (and more than the floor) is not used to find
# candidates, only to rank them: on a large knowledge base a word such as "account" would
# otherwise make every search rank a sizeable share of all articles.
COMMON_SHARE = 0.03
COMMON_FLOOR = 1000
# Query words the index does not know are corrected to at most this many lexemes.
CORRECTIONS_PER_WORD = 2


def _plain(text: str) -> str:
    """Lower case without accents (what the index holds for titles)."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _typed_word(text: str) -> str | None:
    """The last word of a question being typed (3 characters or more), matched as a prefix."""
    if text[-1:].isspace():
        return None
    match = _PREFIX_WORD.search(_plain(text))
    return match.group(1) if match else None


# ---------------------------------------------------------------- ranking, in one statement

# The whole ranking is one statement: the query's plan, the full-text candidates, the
# nearest embeddings, the blend, and the page's articles with their snippets. One
# statement rather than one per step: each statement is sent, parsed and planned on its
# own, and on a busy machine each round trip also waits for the database process to be
# scheduled (docs/knowledgebase.md, Speed). The steps, in order:
#
# - q, words, corrections, typed, term, plan: the query's lexemes ('english' stemming over
#   unaccented text, stop words dropped), how many articles hold each (kbsearch_lexeme),
#   the unknown ones corrected to the nearest lexemes by trigram similarity, the word being
#   typed as a prefix (suggestions). `ranking` (every term, an OR) scores the candidates,
#   which `candidates` (the terms that are not common, an OR; the AND of all the words when
#   every one is common) finds through the GIN index.
# - lexical: at most CANDIDATES readable articles matching `candidates`, ranked by ts_rank,
#   the title's trigram similarity and the all-words and phrase boosts; the `pool` best.
# - nearest, near, semantic: the nearest embeddings through the HNSW index (pgvector; with
#   the real[] column, the nearest found by the process, given as arrays), the readable
#   ones among them, and the cosine similarity of the full-text candidates too.
# - scored, ranked, page: the blend, the `pool` best, the page's rows with ts_headline.
#
# `visible` is NOT MATERIALIZED: each use is planned as a subquery on its few candidate
# rows, never as a list of every readable article.
_RANKING_SQL = """
WITH visible(id) AS NOT MATERIALIZED ({visible}),
q AS (
    SELECT plainto_tsquery('english', unaccent(%(text)s)) AS all_words,
           phraseto_tsquery('english', unaccent(%(text)s)) AS phrase,
           lower(unaccent(%(text)s)) AS normalized,
           tsvector_to_array(to_tsvector('english', unaccent(%(text)s))) AS lexemes,
           greatest({common_floor}::bigint, floor({common_share}::float8 * (
               SELECT greatest(reltuples, 0)::bigint FROM pg_class
                WHERE oid = 'kbsearch_articleindex'::regclass))::bigint) AS cap
), words AS MATERIALIZED (
    SELECT u.word, u.n, l.ndoc
      FROM q CROSS JOIN unnest(q.lexemes) WITH ORDINALITY AS u(word, n)
      LEFT JOIN kbsearch_lexeme l ON l.word = u.word
), corrections AS (
    SELECT c.word, w.n, c.k
      FROM words w
     CROSS JOIN LATERAL (
        SELECT l.word, row_number() OVER (
                   ORDER BY similarity(l.word, w.word) DESC, l.ndoc DESC, l.word) AS k
          FROM kbsearch_lexeme l WHERE l.word %% w.word
         ORDER BY k
         LIMIT {corrections}
    ) AS c
     WHERE w.ndoc IS NULL AND length(w.word) >= 4
), typed AS (
    SELECT quote_literal(%(typed)s::text) || ':*' AS term
     WHERE %(typed)s::text IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM words w WHERE w.word = %(typed)s::text AND w.ndoc IS NOT NULL)
       AND (SELECT coalesce(sum(l.ndoc), 0) FROM kbsearch_lexeme l
             WHERE l.word LIKE %(typed)s::text || '%%') <= (SELECT cap FROM q)
), term AS (
    SELECT 1 AS part, w.n, 0::bigint AS k, w.word, coalesce(w.ndoc, 0) <= q.cap AS selective
      FROM words w CROSS JOIN q
     WHERE strpos(w.word, chr(92)) = 0
    UNION ALL
    SELECT 2, c.n, c.k, c.word, true FROM corrections c WHERE strpos(c.word, chr(92)) = 0
), plan AS MATERIALIZED (
    SELECT nullif(concat_ws(' | ',
               (SELECT string_agg(quote_literal(t.word), ' | ' ORDER BY t.part, t.n, t.k)
                  FROM term t),
               (SELECT term FROM typed)), '')::tsquery AS ranking,
           coalesce(
               nullif(concat_ws(' | ',
                   (SELECT string_agg(quote_literal(t.word), ' | ' ORDER BY t.part, t.n, t.k)
                      FROM term t WHERE t.selective),
                   (SELECT term FROM typed)), '')::tsquery,
               CASE WHEN numnode(q.all_words) > 0 THEN q.all_words END) AS candidates,
           CASE WHEN numnode(q.all_words) > 1 THEN q.all_words END AS all_words,
           CASE WHEN numnode(q.all_words) > 1 AND strpos(q.phrase::text, '<->') > 0
                THEN q.phrase END AS phrase,
           q.normalized
      FROM q
), lexical AS MATERIALIZED (
    SELECT i.article_id,
           ts_rank('{weights}'::float4[], i.document, p.ranking)
           + similarity(i.title_norm, p.normalized)
           + CASE WHEN p.all_words IS NOT NULL AND i.document @@ p.all_words
                  THEN {all_words_boost} ELSE 0 END
           + CASE WHEN p.phrase IS NOT NULL AND i.document @@ p.phrase
                  THEN {phrase_boost} ELSE 0 END AS score
      FROM plan p
     CROSS JOIN LATERAL (
        SELECT c.article_id FROM kbsearch_articleindex c
         WHERE c.document @@ p.candidates AND c.article_id IN (SELECT id FROM visible)
         LIMIT {candidates}
    ) AS candidate
      JOIN kbsearch_articleindex i ON i.article_id = candidate.article_id
     WHERE {lexical}
     ORDER BY score DESC, i.article_id
     LIMIT {pool}
), v AS MATERIALIZED (
    SELECT %(vector)s::{vector_type} AS v
), nearest AS MATERIALIZED (
    {nearest_sql}
), near AS MATERIALIZED (
    SELECT n.article_id, n.distance FROM nearest n
     WHERE n.distance IS NOT NULL AND n.article_id IN (SELECT id FROM visible)
     ORDER BY n.distance, n.article_id
     LIMIT {pool}
), semantic AS (
    SELECT article_id, 1 - distance AS similarity FROM near
    UNION ALL
    SELECT i.article_id, {similarity}
      FROM kbsearch_articleindex i
     WHERE {semantic} AND i.article_id IN (SELECT article_id FROM lexical)
       AND i.embedding IS NOT NULL AND i.article_id NOT IN (SELECT article_id FROM near)
), scored AS (
    SELECT coalesce(l.article_id, s.article_id) AS article_id, l.score AS lexical,
           s.similarity AS semantic,
           CASE WHEN NOT {semantic} THEN l.score
                WHEN NOT {lexical} THEN s.similarity
                ELSE {weight}::float8 * coalesce(s.similarity, 0)
                     + {rest}::float8 * coalesce(l.score, 0)
                     / (SELECT coalesce(nullif(max(score), 0), 1) FROM lexical)
           END AS score
      FROM lexical l FULL JOIN semantic s ON s.article_id = l.article_id
     WHERE NOT {semantic} OR l.article_id IS NOT NULL OR s.similarity >= {minimum}::float8
), ranked AS MATERIALIZED (
    SELECT article_id, lexical, semantic, score,
           row_number() OVER (ORDER BY score DESC, article_id) AS position
      FROM scored
     ORDER BY score DESC, article_id
     LIMIT {pool}
), page AS (
    SELECT r.position, r.article_id, r.score, r.lexical, r.semantic,
           a.title, a.slug, a.summary, a.kind, c.name AS category, {marks}
      FROM ranked r
      JOIN knowledgebase_article a ON a.id = r.article_id
      LEFT JOIN knowledgebase_category c ON c.id = a.category_id
     CROSS JOIN plan p
     WHERE r.position > %(start)s AND r.position <= %(stop)s
){log}
SELECT (SELECT count(*) FROM ranked), page.article_id, page.score, page.lexical,
       page.semantic, page.title, page.slug, page.summary, page.kind, page.category,
       page.title_mark, page.snippet_mark, {logged}
  FROM (SELECT 1) AS one LEFT JOIN page ON true
 ORDER BY page.position
"""
# What the search log counts: every ranked article (a search), or the page's (suggestions).
_LOG_COUNTS = {
    "ranked": "(SELECT count(*) FROM ranked)",
    "page": "(SELECT count(*) FROM ranked WHERE position > %(start)s AND position <= %(stop)s)",
}

# The semantic side, by where the embeddings are (migration 0001 decided). pgvector: the
# nearest through the HNSW index (a filter inside the index scan can make the planner give
# the index up and compare every vector, hence the readable ones are picked afterwards);
# the query's vector is sent once and read through an InitPlan, which the index scan takes.
_NEAREST = {
    "vector": """SELECT i.article_id, i.embedding <=> (SELECT v FROM v) AS distance
      FROM kbsearch_articleindex i
     WHERE {semantic}
     ORDER BY i.embedding <=> (SELECT v FROM v)
     LIMIT {nearest}""",
    # real[]: the process found the nearest (numpy over every embedding).
    "array": """SELECT u.article_id, 1 - u.similarity AS distance
      FROM unnest(%(near_ids)s::bigint[], %(near_similarities)s::float8[])
           AS u(article_id, similarity)
     WHERE {semantic}""",
}
_SIMILARITY = {
    "vector": "1 - (i.embedding <=> (SELECT v FROM v))",
    # Stored embeddings are normalised: the dot product is the cosine.
    "array": "(SELECT sum(e::float8 * x) FROM unnest(i.embedding, (SELECT v FROM v)) AS u(e, x))",
}
_MARKS = {
    True: "ts_headline('english', a.title, coalesce(p.ranking, ''::tsquery), %(headline)s) "
    "AS title_mark, ts_headline('english', left(a.summary || E'\\n' || a.body, 20000), "
    "coalesce(p.ranking, ''::tsquery), %(fragments)s) AS snippet_mark",
    False: "NULL::text AS title_mark, NULL::text AS snippet_mark",
}
_PLACEHOLDER = re.compile(r"%%|%s")


@functools.cache
def _ranking_template(
    storage: str,
    *,
    snippets: bool,
    lexical: bool,
    semantic: bool,
    pool: int,
    weight: float,
    minimum: float,
    candidates: int,
) -> str:
    """The ranking statement but for `{visible}`, its constants written into the text: the
    statement is prepared and planned once per connection for every query (a plan that
    knows its limits and which sides run), see `_prepared_cursor`."""
    fields = {
        "{nearest_sql}": _NEAREST[storage],
        "{similarity}": _SIMILARITY[storage],
        "{marks}": _MARKS[snippets],
        "{vector_type}": "vector" if storage == "vector" else "real[]",
        "{lexical}": "true" if lexical else "false",
        "{semantic}": "true" if semantic else "false",
        "{pool}": str(int(pool)),
        "{nearest}": str(int(pool * SEMANTIC_OVERFETCH)),
        "{candidates}": str(int(candidates)),
        "{corrections}": str(int(CORRECTIONS_PER_WORD)),
        "{common_floor}": str(int(COMMON_FLOOR)),
        "{common_share}": repr(float(COMMON_SHARE)),
        "{weights}": RANK_WEIGHTS,
        "{weight}": repr(weight),
        "{rest}": repr(1 - weight),
        "{minimum}": repr(minimum),
        "{all_words_boost}": repr(float(ALL_WORDS_BOOST)),
        "{phrase_boost}": repr(float(PHRASE_BOOST)),
    }
    sql = _RANKING_SQL
    for name, value in fields.items():
        sql = sql.replace(name, value)
    return sql


def _named(sql: str, params: Sequence[Any]) -> tuple[str, dict[str, Any]]:
    """Django's SQL with positional placeholders, as named ones (v0, v1, …) to embed in a
    statement with named parameters."""
    names: dict[str, Any] = {}

    def name(match: re.Match[str]) -> str:
        if match.group() == "%%":
            return "%%"
        key = f"v{len(names)}"
        names[key] = params[len(names)]
        return f"%({key})s"

    named = _PLACEHOLDER.sub(name, sql)
    if len(names) != len(params):
        raise ValueError("The visibility SQL's placeholders and parameters differ in number.")
    return named, names


class _PreparedCursor(psycopg.Cursor):
    """Binds parameters on the server and prepares the statement (once per connection)."""

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        return super().execute(query, params, prepare=True)


def _prepared_cursor(*, ranking: bool = True) -> CursorWrapper:
    """A cursor for the ranking statement, prepared on the server and run with a generic
    plan: planning the statement cost about as much as running it (1.4 ms of about 4 ms
    of the database's time for a suggestion). Its parameters (the text, the vector, the
    reader, the page) do not change the plan's shape: every limit is in the text, and what
    the text's words select is read inside the statement. Django's own statements bind on
    the client and are never prepared, so the connection's settings below touch the
    search's statements only. Through Django's cursor wrapper, so the statement is counted
    and logged like any other. `ranking=False`: prepared, without the ranking's settings
    (the search log's statement)."""
    connection.cursor().close()  # connected, and Django's health check done
    raw = connection.connection
    if raw.prepare_threshold is None:  # Django's default: preparing switched off
        # Only an explicit prepare=True prepares; nothing is prepared automatically.
        raw.prepare_threshold = 2**31
    if ranking and getattr(connection, "_kbsearch_session_for", None) is not raw:
        statements = ["SET plan_cache_mode = force_generic_plan"]
        if embeddings.storage() == "vector":
            # With a filter, keep walking the HNSW graph until enough rows are found.
            statements += ["SET hnsw.iterative_scan = relaxed_order", "SET hnsw.ef_search = 100"]
        with connection.cursor() as cursor:
            cursor.execute("; ".join(statements))
        # Once per connection; inside a transaction every time (a rollback undoes a SET).
        if not connection.in_atomic_block:
            connection._kbsearch_session_for = raw  # type: ignore[attr-defined]
    wrapper = CursorDebugWrapper if connection.queries_logged else CursorWrapper
    return wrapper(_PreparedCursor(raw), connection)


_embedded_seen_at = 0.0


def _has_embeddings() -> bool:
    """Some article has its embedding (remembered for a minute once true)."""
    global _embedded_seen_at
    if time.monotonic() - _embedded_seen_at < 60:
        return True
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM kbsearch_articleindex WHERE embedded_at IS NOT NULL)"
        )
        row = cursor.fetchone()
    if row and row[0]:
        _embedded_seen_at = time.monotonic()
        return True
    return False


def semantic_ready() -> bool:
    """Semantic search would take part in a search now (the model is usable and at least
    one article has its embedding)."""
    return embeddings.available() and _has_embeddings()


@dataclass(frozen=True)
class _Page:
    total: int
    hits: list[Hit]
    semantic: bool
    search_id: int | None = None


def _ranked_page(
    text: str,
    visible: tuple[str, tuple[Any, ...]],
    *,
    mode: str = "blend",
    pool: int = POOL,
    prefix: bool = False,
    start: int = 0,
    stop: int = PAGE_SIZE,
    snippets: bool = True,
    log: _LogEntry | None = None,
    log_count: str = "ranked",
) -> _Page:
    """The ranked articles from `start` to `stop` (at most `pool` are ranked), in one
    statement once the query is embedded (the module's docstring has the ranking); with
    `log`, the same statement writes the search log's row, counting `log_count`."""
    vector = None
    if mode in ("blend", "semantic") and semantic_ready():
        vector = embeddings.embed_query(text)
    semantic = vector is not None
    storage = embeddings.storage()  # the statement names the column's type either way
    lexical = mode in ("blend", "lexical") or not semantic
    visible_sql, params = _named(*visible)
    params.update(
        text=text,
        typed=_typed_word(text) if prefix else None,
        vector=None,
        near_ids=[],
        near_similarities=[],
        start=start,
        stop=stop,
        headline=_HEADLINE,
        fragments=_FRAGMENTS,
    )
    if vector is not None:
        params["vector"] = embeddings.to_sql(vector)[1]
        if storage == "array":
            nearest = embeddings.nearest_in_process(vector, limit=pool * SEMANTIC_OVERFETCH * 2)
            params["near_ids"] = [article_id for article_id, _ in nearest]
            params["near_similarities"] = [similarity for _, similarity in nearest]
    template = _ranking_template(
        storage,
        snippets=snippets,
        lexical=lexical,
        semantic=semantic,
        pool=pool,
        weight=float(getattr(settings, "KB_SEARCH_SEMANTIC_WEIGHT", 0.8)),
        minimum=float(getattr(settings, "KB_SEARCH_SEMANTIC_MIN_SIMILARITY", 0.3)),
        candidates=CANDIDATES,
    )
    sql = template.replace("{visible}", visible_sql)
    if log is None:
        sql = sql.replace("{log}", "").replace("{logged}", "NULL::bigint")
    else:
        sql = sql.replace("{log}", ", " + log.ctes(_LOG_COUNTS[log_count]))
        sql = sql.replace("{logged}", "(SELECT id FROM logged)")
        params.update(log.params())
    with _prepared_cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    hits = []
    for row in rows:
        _, article_id, score, full_text, similarity, title, slug, summary, kind, category = row[:10]
        if article_id is None:  # no result on this page: the row carries the count only
            continue
        title_mark, snippet_mark = row[10:12]
        hits.append(
            Hit(
                article_id=article_id,
                title=title,
                slug=slug,
                summary=summary,
                kind=kind,
                category=category,
                score=round(score, 4),
                lexical=round(full_text or 0.0, 4),
                semantic=round(similarity, 4) if similarity is not None else None,
                title_html=_marked(title_mark) if title_mark is not None else html.escape(title),
                snippet_html=_marked(snippet_mark) if snippet_mark is not None else "",
            )
        )
    return _Page(
        total=int(rows[0][0]) if rows else 0,
        hits=hits,
        semantic=semantic,
        search_id=rows[0][12] if rows else None,
    )


# ---------------------------------------------------------------- snippets

_START, _STOP = "\x02", "\x03"
_MARKDOWN = [
    (re.compile(r"!?\[([^\]]*)\]\([^)]*\)"), r"\1"),  # links and images: their text
    (re.compile(r"`{1,3}|\*{1,3}|_{2,}|~~|^#{1,6}\s*|^>\s*", re.M), ""),
    (re.compile(r"\s+"), " "),
]


def _marked(text: str) -> str:
    """Headline text with its marks made safe: everything escaped, then <mark> put back."""
    for pattern, replacement in _MARKDOWN:
        text = pattern.sub(replacement, text)
    escaped = html.escape(text.strip())
    return escaped.replace(_START, "<mark>").replace(_STOP, "</mark>")


_HEADLINE = f"StartSel={_START}, StopSel={_STOP}, HighlightAll=true"
_FRAGMENTS = (
    f"StartSel={_START}, StopSel={_STOP}, MaxFragments=2, MinWords=8, MaxWords=30, "
    'FragmentDelimiter=" … "'
)


# ---------------------------------------------------------------- search and suggest


def search(
    *,
    user: User | AnonymousUser | None,
    q: str | None,
    category: str | None = None,
    page: int = 1,
    page_size: int = PAGE_SIZE,
    mode: str = "blend",
    log: bool = True,
) -> SearchResult:
    """Ranked, highlighted, paginated results among the published articles `user` may read.

    `mode` is "blend" (the product: semantic and full text when the model is there, full
    text alone otherwise), "lexical" or "semantic" (the evaluation compares them)."""
    text = clean_query(q)
    if mode not in MODES:
        raise InvalidQuery(f"Unknown mode: {mode}.", field="mode")
    if page < 1:
        raise InvalidQuery("Pages start at 1.", field="page")
    page_size = max(1, min(page_size, MAX_PAGE_SIZE))
    visible = published_ids_sql(user, _category_ids(category))
    start = (page - 1) * page_size
    ranked = _ranked_page(
        text, visible, mode=mode, start=start, stop=start + page_size,
        log=_LogEntry.of(user, text, scope=category or "", source=Source.SEARCH) if log else None,
    )  # fmt: skip
    return SearchResult(
        query=text,
        mode=mode,
        hits=ranked.hits,
        total=ranked.total,
        page=page,
        page_size=page_size,
        search_id=ranked.search_id,
        semantic=ranked.semantic,
    )


def suggest(*, user: User | AnonymousUser | None, q: str | None, log: bool = True) -> SearchResult:
    """The three best articles for a question being typed (its last word may be cut short)."""
    text = clean_query(q)
    ranked = _ranked_page(
        text,
        published_ids_sql(user),
        pool=SUGGEST_POOL,
        prefix=True,
        stop=SUGGEST_COUNT,
        snippets=False,
        log=_LogEntry.of(user, text, source=Source.SUGGEST) if log else None,
        log_count="page",
    )
    return SearchResult(
        query=text,
        mode="blend",
        hits=ranked.hits,
        total=len(ranked.hits),
        page=1,
        page_size=SUGGEST_COUNT,
        search_id=ranked.search_id,
        semantic=ranked.semantic,
    )


# ---------------------------------------------------------------- embeddings


def _stale(ids: Sequence[int] | None, limit: int) -> list[tuple[int, str, str]]:
    """(article id, text hash, text to embed) of articles whose embedding is missing or old."""
    rows = (
        ArticleIndex.objects.exclude(embedded_hash=F("text_hash"))
        .order_by("article_id")
        .values_list("article_id", "text_hash")
    )
    if ids is not None:
        rows = rows.filter(article_id__in=ids)
    found = list(rows[:limit])
    if not found:
        return []
    texts = {
        a.pk: embeddings.article_text(a.title, a.summary, a.tags, a.body)
        for a in Article.objects.filter(pk__in=[r[0] for r in found]).only(
            "pk", "title", "summary", "tags", "body"
        )
    }
    return [(a, h, texts[a]) for a, h in found if a in texts]


def _store(rows: list[tuple[int, str, str]], vectors: np.ndarray) -> int:
    stored = 0
    now = timezone.now()
    with connection.cursor() as cursor:
        for (article_id, text_hash, _), vector in zip(rows, vectors, strict=True):
            placeholder, value = embeddings.to_sql(vector)
            # Only if the text is still the one embedded: a newer save embeds again.
            cursor.execute(
                f"UPDATE kbsearch_articleindex SET embedding = {placeholder}, "  # noqa: S608
                "embedded_hash = %s, embedded_at = %s WHERE article_id = %s AND text_hash = %s",
                [value, text_hash, now, article_id, text_hash],
            )
            stored += cursor.rowcount
    return stored


def index_article(article_id: int) -> bool:
    """Embed the article now if its text changed since its last embedding (the full-text
    index is kept by the database). True when an embedding was stored. Idempotent."""
    encode = embeddings.encoder()
    if encode is None:
        return False
    rows = _stale([article_id], 1)
    if not rows:
        return False
    return _store(rows, encode([rows[0][2]])) == 1


def index_article_later(article_id: int) -> None:
    """After the current transaction commits, have a worker embed the article. The content
    services call this when they save an article; the beat sweep catches any that is lost."""
    from knowledgebase.search.tasks import embed_article

    def send() -> None:
        try:
            embed_article.delay(article_id)
        except Exception:  # noqa: BLE001 - the broker is away: the sweep embeds it later
            logger.warning("Embedding of article %s is left to the sweep", article_id)

    transaction.on_commit(send)


def embed_pending(*, batch: int = 64, limit: int | None = None) -> int:
    """Embed articles whose embedding is missing or older than their text, `batch` at a
    time, up to `limit` (all of them when None). Returns how many were stored."""
    encode = embeddings.encoder()
    if encode is None:
        return 0
    stored = 0
    while limit is None or stored < limit:
        rows = _stale(None, batch if limit is None else min(batch, limit - stored))
        if not rows:
            break
        done = _store(rows, encode([text for _, _, text in rows]))
        stored += done
        if done == 0:
            break
    return stored


def refresh_lexemes() -> int:
    """Recount how many articles hold each lexeme, and forget lexemes no article holds any
    more (beat, every KB_SEARCH_LEXEME_REFRESH_SECONDS). Returns the number of lexemes."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE kbsearch_lexeme_count ON COMMIT DROP AS "
            "SELECT word, ndoc FROM ts_stat('SELECT document FROM kbsearch_articleindex') "
            "WHERE length(word) <= 60"
        )
        cursor.execute(
            "DELETE FROM kbsearch_lexeme l WHERE NOT EXISTS "
            "(SELECT 1 FROM kbsearch_lexeme_count c WHERE c.word = l.word)"
        )
        cursor.execute(
            "INSERT INTO kbsearch_lexeme (word, ndoc) SELECT word, ndoc FROM kbsearch_lexeme_count "
            "ON CONFLICT (word) DO UPDATE SET ndoc = EXCLUDED.ndoc "
            "WHERE kbsearch_lexeme.ndoc <> EXCLUDED.ndoc"
        )
        cursor.execute("SELECT count(*) FROM kbsearch_lexeme_count")
        return int(cursor.fetchone()[0])


# ---------------------------------------------------------------- the search log


def _user_id(user: User | AnonymousUser | None) -> int | None:
    return user.pk if user is not None and user.is_authenticated else None


# The search log's write, as the CTEs of a statement, ending in `logged(id, scope)`: the
# ranking's statement carries them (the row is written in the same round trip, counting
# its results from `ranked`), and `log_search` runs them alone. `collapse`: a suggestion of
# a signed-in user, whose last suggestion row of the last SUGGEST_COLLAPSE_SECONDS, from
# which no article was opened, is updated when the new text extends or shortens its text;
# otherwise a row is inserted. `{count}` is the SQL of the result count; `{no_wait}` see
# `_no_wait`.
_LOG_INSERT = """log_inserted AS (
    INSERT INTO kbsearch_searchlog (user_id, query, normalized, scope, source, result_count,
                                    created_at)
    SELECT %(log_user)s, %(log_query)s, %(log_normalized)s, %(log_scope)s, %(log_source)s,
           {count}, %(log_now)s
      FROM {no_wait}
     {only_if}
    RETURNING id, scope
)"""
_LOG_COLLAPSE = """log_last AS (
    SELECT l.id, l.normalized FROM kbsearch_searchlog l
     WHERE l.user_id = %(log_user)s AND l.source = %(log_source)s
       AND l.opened_article_id IS NULL AND l.created_at >= %(log_since)s
     ORDER BY l.created_at DESC, l.id DESC
     LIMIT 1
), log_updated AS (
    UPDATE kbsearch_searchlog s
       SET query = %(log_query)s, normalized = %(log_normalized)s, result_count = {count},
           created_at = %(log_now)s
      FROM log_last, {no_wait}
     WHERE s.id = log_last.id AND (starts_with(%(log_normalized)s, log_last.normalized)
                                   OR starts_with(log_last.normalized, %(log_normalized)s))
    RETURNING s.id, s.scope
), """
_LOGGED = {
    False: ", logged AS (SELECT id, scope FROM log_inserted)",
    True: ", logged AS (SELECT id, scope FROM log_updated UNION ALL SELECT id, scope FROM log_inserted)",
}


@functools.cache
def _log_ctes(collapse: bool) -> str:
    only_if = "WHERE NOT EXISTS (SELECT 1 FROM log_updated)" if collapse else ""
    inserted = _LOG_INSERT.replace("{only_if}", only_if)
    return (_LOG_COLLAPSE if collapse else "") + inserted + _LOGGED[collapse]


@dataclass(frozen=True)
class _LogEntry:
    """What the search log is to record of a search (its result count comes from it)."""

    user_id: int | None
    text: str
    scope: str
    source: str
    now: datetime

    @classmethod
    def of(
        cls, user: User | AnonymousUser | None, query: str, *, scope: str = "", source: str
    ) -> _LogEntry:
        return cls(
            _user_id(user), " ".join(query.split())[:MAX_QUERY_LENGTH], scope[:100], source,
            timezone.now(),
        )  # fmt: skip

    @property
    def collapse(self) -> bool:
        return self.source == Source.SUGGEST and self.user_id is not None

    def ctes(self, count: str) -> str:
        return _log_ctes(self.collapse).replace("{count}", count).replace("{no_wait}", _no_wait())

    def params(self) -> dict[str, Any]:
        return {
            "log_user": self.user_id,
            "log_query": self.text,
            "log_normalized": self.text.lower(),
            "log_scope": self.scope,
            "log_source": self.source,
            "log_now": self.now,
            "log_since": self.now - timedelta(seconds=SUGGEST_COLLAPSE_SECONDS),
        }

    def row(self, pk: int, scope: str, result_count: int) -> SearchLog:
        entry = SearchLog(
            pk=pk,
            user_id=self.user_id,
            query=self.text,
            normalized=self.text.lower(),
            scope=scope,
            source=self.source,
            result_count=result_count,
            created_at=self.now,
        )
        entry._state.adding = False
        entry._state.db = connection.alias
        return entry


def log_search(
    *,
    user: User | AnonymousUser | None,
    query: str,
    result_count: int,
    scope: str = "",
    source: str = Source.SEARCH,
) -> SearchLog:
    """Record one search (`search` and `suggest` write theirs within the ranking's
    statement, the same way). Suggestions asked for while a question is typed make one row:
    a request within SUGGEST_COLLAPSE_SECONDS of the user's last one, whose text extends or
    shortens it, updates that row (unless an article was opened from it)."""
    log = _LogEntry.of(user, query, scope=scope, source=source)
    # Prepared too (parsed and planned once per connection); the ranking's settings are
    # not needed.
    with _prepared_cursor(ranking=False) as cursor:
        cursor.execute(
            f"WITH {log.ctes('%(log_count)s')} SELECT id, scope FROM logged",  # noqa: S608
            {**log.params(), "log_count": result_count},
        )
        pk, stored_scope = cursor.fetchone()
    return log.row(pk, stored_scope, result_count)


def _no_wait() -> str:
    """The search log is analytics: a write of it outside a caller's transaction commits
    asynchronously (`synchronous_commit = off` for that one statement's transaction), so a
    search does not wait about 2 ms for the write-ahead log to reach the disk. A server
    crash can lose the last fraction of a second of logged searches, never corrupt
    anything. Inside a caller's transaction nothing changes (the setting would last until
    that transaction's end and apply to the caller's writes too)."""
    if connection.in_atomic_block:
        return "(SELECT 1) AS now_"
    return "(SELECT set_config('synchronous_commit', 'off', true)) AS now_"


def _log_of(user: User | AnonymousUser | None, search_id: int) -> SearchLog:
    user_id = _user_id(user)
    entry = SearchLog.objects.filter(pk=search_id).first()
    if entry is None or user_id is None or entry.user_id != user_id:
        raise SearchNotFound("No such search.")
    return entry


def _readable_article(user: User | AnonymousUser | None, article_id: int) -> Article:
    article = articles_visible_to(user).filter(pk=article_id).first()
    if article is None:
        raise SearchNotFound("No such article.", field="article")
    return article


@transaction.atomic
def record_open(*, user: User | AnonymousUser | None, search_id: int, article_id: int) -> SearchLog:
    """The searcher opened an article from the results. The first opened article is the
    one kept (it is what the results offered first-hand)."""
    entry = _log_of(user, search_id)
    article = _readable_article(user, article_id)
    SearchLog.objects.filter(pk=entry.pk, opened_article__isnull=True).update(
        opened_article=article, opened_at=timezone.now()
    )
    entry.refresh_from_db()
    return entry


@transaction.atomic
def record_answered(
    *, user: User | AnonymousUser | None, search_id: int, article_id: int
) -> SearchLog:
    """ "This answered my question": a deflection, recorded at once (once per search)."""
    entry = _log_of(user, search_id)
    article = _readable_article(user, article_id)
    now = timezone.now()
    SearchLog.objects.filter(pk=entry.pk, opened_article__isnull=True).update(
        opened_article=article, opened_at=now
    )
    SearchLog.objects.filter(pk=entry.pk, answered_at__isnull=True).update(answered_at=now)
    entry.refresh_from_db()
    return entry
