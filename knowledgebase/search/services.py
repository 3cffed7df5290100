"""Search, suggestions, the embedding of articles, and the search log (docs/knowledgebase.md).

Ranking, in short: the full-text side takes every article matching any of the query's
lexemes ('english' stemming, stop words such as "how", "do", "I" dropped by the
dictionary), or whose title is trigram-similar to the query (typos, partial words), and
scores it with ts_rank over the weighted document (title > summary and tags > body), plus
the title's trigram similarity, plus small boosts when every word or the exact phrase
matches. The semantic side takes the nearest article embeddings. The two are blended:
KB_SEARCH_SEMANTIC_WEIGHT × cosine similarity + the rest × the full-text score divided by
the best full-text score of the query. Every candidate comes from
`articles_visible_to(user)`, published articles only, before anything is ranked.
"""

from __future__ import annotations

import html
import logging
import re
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from knowledgebase.models import Article, Category
from knowledgebase.search import embeddings
from knowledgebase.search.errors import InvalidQuery, SearchNotFound, UnknownCategory
from knowledgebase.search.models import ArticleIndex, SearchLog, Source
from knowledgebase.selectors import articles_visible_to
from knowledgebase.states import ArticleStatus

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


@dataclass
class _Ranked:
    ids: list[int] = field(default_factory=list)
    lexical: dict[int, float] = field(default_factory=dict)
    semantic: dict[int, float] = field(default_factory=dict)
    scores: dict[int, float] = field(default_factory=dict)
    used_semantic: bool = False
    # The any-word query the snippets mark, when the full-text side ran.
    marked: str | None = None


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


def _visible_sql(
    user: User | AnonymousUser | None, category_ids: list[int] | None
) -> tuple[str, tuple[Any, ...]]:
    articles = articles_visible_to(user).filter(status=ArticleStatus.PUBLISHED)
    if category_ids is not None:
        articles = articles.filter(category_id__in=category_ids)
    sql, params = articles.order_by().values("pk").query.sql_with_params()
    return sql, tuple(params)


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


def _term(lexeme: str, *, prefix: bool = False) -> str:
    return "'" + lexeme.replace("'", "''") + "'" + (":*" if prefix else "")


@dataclass(frozen=True)
class _Plan:
    """What one query becomes: `ranking` (any word, corrections and the typed prefix
    included) scores candidates, which `candidates` finds through the GIN index."""

    ranking: str | None
    candidates: str | None
    all_words: str | None
    phrase: str | None
    normalized: str


_PLAN_SQL = """
WITH q AS (
    SELECT plainto_tsquery('english', unaccent(%(text)s)) AS all_words,
           phraseto_tsquery('english', unaccent(%(text)s)) AS phrase,
           lower(unaccent(%(text)s)) AS normalized,
           tsvector_to_array(to_tsvector('english', unaccent(%(text)s))) AS lexemes
), known AS (
    SELECT l.word, l.ndoc FROM kbsearch_lexeme l, q WHERE l.word = ANY(q.lexemes)
), corrections AS (
    SELECT c.word FROM q, unnest(q.lexemes) AS u(word)
    CROSS JOIN LATERAL (
        SELECT l.word FROM kbsearch_lexeme l WHERE l.word %% u.word
         ORDER BY similarity(l.word, u.word) DESC, l.ndoc DESC, l.word
         LIMIT %(corrections)s
    ) AS c
    WHERE length(u.word) >= 4 AND NOT EXISTS (SELECT 1 FROM known k WHERE k.word = u.word)
)
SELECT q.all_words::text, q.phrase::text, numnode(q.all_words), q.normalized, q.lexemes,
       (SELECT greatest(reltuples, 0)::bigint FROM pg_class
         WHERE oid = 'kbsearch_articleindex'::regclass),
       ARRAY(SELECT k.word FROM known k), ARRAY(SELECT k.ndoc FROM known k),
       ARRAY(SELECT c.word FROM corrections c),
       CASE WHEN %(prefix)s::text IS NULL THEN NULL
            ELSE (SELECT coalesce(sum(l.ndoc), 0) FROM kbsearch_lexeme l
                   WHERE l.word LIKE %(prefix)s::text) END
  FROM q
"""


def _plan(text: str, *, prefix: bool) -> _Plan:
    """One round trip: the query's lexemes, which of them the index knows and how common
    they are, corrections of the unknown ones, and how common the typed prefix is."""
    typed_word = None
    if prefix and not text[-1:].isspace():
        match = _PREFIX_WORD.search(_plain(text))
        typed_word = match.group(1) if match else None
    with connection.cursor() as cursor:
        cursor.execute(
            _PLAN_SQL,
            {
                "text": text,
                "corrections": CORRECTIONS_PER_WORD,
                "prefix": None if typed_word is None else typed_word + "%",
            },
        )
        row = cursor.fetchone()
    all_words, phrase, nodes, normalized, lexemes, articles = row[:6]
    known = dict(zip(row[6], row[7], strict=True))
    corrections = [w for w in row[8] if "\\" not in w]
    lexemes = [w for w in lexemes if "\\" not in w]
    cap = max(COMMON_FLOOR, int(COMMON_SHARE * (articles or 0)))
    typed = None
    if typed_word is not None and typed_word not in known and (row[9] or 0) <= cap:
        typed = _term(typed_word, prefix=True)
    selective = [w for w in lexemes if known.get(w, 0) <= cap] + corrections
    ranking_terms = [_term(w) for w in [*lexemes, *corrections]] + ([typed] if typed else [])
    candidate_terms = [_term(w) for w in selective] + ([typed] if typed else [])
    several = nodes > 1
    return _Plan(
        ranking=" | ".join(ranking_terms) or None,
        # Only common words: articles holding all of them.
        candidates=" | ".join(candidate_terms) or (all_words or None),
        all_words=all_words if several else None,
        phrase=phrase if several and "<->" in phrase else None,
        normalized=normalized,
    )


# ---------------------------------------------------------------- ranking


def _lexical(plan: _Plan, visible: tuple[str, tuple[Any, ...]], *, pool: int) -> dict[int, float]:
    """The `pool` best full-text candidates. The candidates are bounded before anything is
    ranked: at most CANDIDATES readable articles matching the selective lexemes, found
    through the GIN index, and `ts_rank` runs on those only (a typo corrected to a common
    word must not make a search rank thousands of articles)."""
    if plan.candidates is None:
        return {}
    sql = f"""
        SELECT i.article_id,
               ts_rank(%s::float4[], i.document, %s::tsquery)
               + similarity(i.title_norm, %s)
               + CASE WHEN %s::tsquery IS NOT NULL AND i.document @@ %s::tsquery
                      THEN {ALL_WORDS_BOOST} ELSE 0 END
               + CASE WHEN %s::tsquery IS NOT NULL AND i.document @@ %s::tsquery
                      THEN {PHRASE_BOOST} ELSE 0 END AS score
          FROM (SELECT c.article_id FROM kbsearch_articleindex c
                 WHERE c.document @@ %s::tsquery
                   AND c.article_id IN ({visible[0]})
                 LIMIT %s) AS candidate
          JOIN kbsearch_articleindex i ON i.article_id = candidate.article_id
         ORDER BY score DESC, i.article_id
         LIMIT %s
    """  # noqa: S608 - the interpolated parts are constants and Django's own SQL
    params = [
        RANK_WEIGHTS, plan.ranking, plan.normalized, plan.all_words, plan.all_words,
        plan.phrase, plan.phrase, plan.candidates, *visible[1], CANDIDATES, pool,
    ]  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {row[0]: float(row[1]) for row in cursor.fetchall()}


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


def _hnsw_settings() -> None:
    """With a filter, keep walking the HNSW graph until enough visible rows are found: set
    once per database connection."""
    raw = connection.connection
    if raw is not None and getattr(connection, "_kbsearch_hnsw_for", None) is raw:
        return
    with connection.cursor() as cursor:
        cursor.execute("SET hnsw.iterative_scan = relaxed_order; SET hnsw.ef_search = 100")
    connection._kbsearch_hnsw_for = connection.connection  # type: ignore[attr-defined]


def _semantic(
    vector: np.ndarray,
    visible: tuple[str, tuple[Any, ...]],
    *,
    pool: int,
    also: Sequence[int] = (),
) -> dict[int, float]:
    """Cosine similarity of the `pool` nearest readable articles, and of the articles `also`
    (the full-text candidates)."""
    if embeddings.storage() == "vector":
        placeholder, value = embeddings.to_sql(vector)
        _hnsw_settings()
        # The nearest embeddings first, through the HNSW index (a filter inside the index
        # scan can make the planner give the index up and sort every vector), then the
        # visibility rule on those few; SEMANTIC_OVERFETCH allows for the unreadable ones.
        # The query's vector is sent once (a literal of 384 numbers costs more to send and
        # parse than the index scan) and read through an InitPlan, which the index takes.
        sql = f"""
            WITH q AS MATERIALIZED (SELECT {placeholder} AS v),
            nearest AS MATERIALIZED (
                SELECT i.article_id, i.embedding <=> (SELECT v FROM q) AS distance
                  FROM kbsearch_articleindex i
                 ORDER BY i.embedding <=> (SELECT v FROM q)
                 LIMIT %s
            ), near AS (
                SELECT n.article_id, n.distance FROM nearest n
                 WHERE n.distance IS NOT NULL AND n.article_id IN ({visible[0]})
                 ORDER BY n.distance
                 LIMIT %s
            )
            SELECT article_id, 1 - distance FROM near
            UNION ALL
            SELECT i.article_id, 1 - (i.embedding <=> (SELECT v FROM q))
              FROM kbsearch_articleindex i
             WHERE i.article_id = ANY(%s) AND i.embedding IS NOT NULL
               AND i.article_id NOT IN (SELECT article_id FROM near)
        """  # noqa: S608 - placeholders and Django's own SQL
        with connection.cursor() as cursor:
            params = [value, pool * SEMANTIC_OVERFETCH, *visible[1], pool, list(also)]
            cursor.execute(sql, params)
            return {row[0]: float(row[1]) for row in cursor.fetchall()}
    nearest = embeddings.nearest_in_process(vector, limit=pool * 4)
    found: dict[int, float] = {}
    if nearest:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT v.id FROM ({visible[0]}) AS v(id) WHERE v.id = ANY(%s)",  # noqa: S608
                [*visible[1], [article_id for article_id, _ in nearest]],
            )
            allowed = {row[0] for row in cursor.fetchall()}
        found = dict([(a, s) for a, s in nearest if a in allowed][:pool])
    missing = [a for a in also if a not in found]
    found.update(embeddings.similarities_in_process(vector, missing))
    return found


def semantic_ready() -> bool:
    """Semantic search would take part in a search now (the model is usable and at least
    one article has its embedding)."""
    return embeddings.available() and _has_embeddings()


def rank(
    text: str,
    visible: tuple[str, tuple[Any, ...]],
    *,
    mode: str = "blend",
    pool: int = POOL,
    prefix: bool = False,
) -> _Ranked:
    """Article ids, best first, with their full-text and semantic scores."""
    ranked = _Ranked()
    vector = None
    if mode in ("blend", "semantic") and semantic_ready():
        vector = embeddings.embed_query(text)
    if mode in ("blend", "lexical") or vector is None:
        plan = _plan(text, prefix=prefix)
        ranked.marked = plan.ranking
        ranked.lexical = _lexical(plan, visible, pool=pool)
    if vector is not None:
        ranked.used_semantic = True
        ranked.semantic = _semantic(vector, visible, pool=pool, also=list(ranked.lexical))
    minimum = float(getattr(settings, "KB_SEARCH_SEMANTIC_MIN_SIMILARITY", 0.3))
    if not ranked.used_semantic:
        ranked.scores = dict(ranked.lexical)
    elif mode == "semantic":
        ranked.scores = {a: s for a, s in ranked.semantic.items() if s >= minimum}
    else:
        weight = float(getattr(settings, "KB_SEARCH_SEMANTIC_WEIGHT", 0.8))
        best = max(ranked.lexical.values(), default=0.0) or 1.0
        candidates = set(ranked.lexical) | {a for a, s in ranked.semantic.items() if s >= minimum}
        ranked.scores = {
            a: weight * ranked.semantic.get(a, 0.0)
            + (1 - weight) * ranked.lexical.get(a, 0.0) / best
            for a in candidates
        }
    ranked.ids = sorted(ranked.scores, key=lambda a: (-ranked.scores[a], a))[:pool]
    return ranked


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


def _hits(ranked: _Ranked, ids: list[int], *, text: str | None) -> list[Hit]:
    """The page's articles in one statement; with `text`, their title and up to two
    passages from ts_headline with the query's words marked (search, not suggestions)."""
    if not ids:
        return []
    if text is not None and ranked.marked is None:
        ranked.marked = _plan(text, prefix=False).ranking
    marks = (
        "ts_headline('english', a.title, q.q, %s), "
        "ts_headline('english', left(a.summary || E'\\n' || a.body, 20000), q.q, %s)"
        if text is not None
        else "NULL, NULL"
    )
    params: list[Any] = [_HEADLINE, _FRAGMENTS] if text is not None else []
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT a.id, a.title, a.slug, a.summary, a.kind, c.name, {marks}
              FROM knowledgebase_article a
              LEFT JOIN knowledgebase_category c ON c.id = a.category_id,
                   (SELECT coalesce(%s::tsquery, ''::tsquery) AS q) q
             WHERE a.id = ANY(%s)
            """,  # noqa: S608 - constants only
            [*params, ranked.marked if text is not None else None, ids],
        )
        rows = {row[0]: row for row in cursor.fetchall()}
    hits = []
    for article_id in ids:
        row = rows.get(article_id)
        if row is None:  # deleted between the ranking and now
            continue
        _, title, slug, summary, kind, category, title_mark, snippet_mark = row
        hits.append(
            Hit(
                article_id=article_id,
                title=title,
                slug=slug,
                summary=summary,
                kind=kind,
                category=category,
                score=round(ranked.scores[article_id], 4),
                lexical=round(ranked.lexical.get(article_id, 0.0), 4),
                semantic=(
                    round(ranked.semantic[article_id], 4) if article_id in ranked.semantic else None
                ),
                title_html=_marked(title_mark) if title_mark is not None else html.escape(title),
                snippet_html=_marked(snippet_mark) if snippet_mark is not None else "",
            )
        )
    return hits


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
    visible = _visible_sql(user, _category_ids(category))
    ranked = rank(text, visible, mode=mode)
    start = (page - 1) * page_size
    hits = _hits(ranked, ranked.ids[start : start + page_size], text=text)
    search_id = None
    if log:
        search_id = log_search(
            user=user, query=text, scope=category or "", result_count=len(ranked.ids)
        ).pk
    return SearchResult(
        query=text,
        mode=mode,
        hits=hits,
        total=len(ranked.ids),
        page=page,
        page_size=page_size,
        search_id=search_id,
        semantic=ranked.used_semantic,
    )


def suggest(*, user: User | AnonymousUser | None, q: str | None, log: bool = True) -> SearchResult:
    """The three best articles for a question being typed (its last word may be cut short)."""
    text = clean_query(q)
    ranked = rank(text, _visible_sql(user, None), pool=SUGGEST_POOL, prefix=True)
    hits = _hits(ranked, ranked.ids[:SUGGEST_COUNT], text=None)
    search_id = None
    if log:
        search_id = log_search(
            user=user, query=text, result_count=len(hits), source=Source.SUGGEST
        ).pk
    return SearchResult(
        query=text,
        mode="blend",
        hits=hits,
        total=len(hits),
        page=1,
        page_size=SUGGEST_COUNT,
        search_id=search_id,
        semantic=ranked.used_semantic,
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


_UPDATE_LOG = (
    "UPDATE kbsearch_searchlog SET query = %s, normalized = %s, result_count = %s, "
    "created_at = %s FROM {no_wait} WHERE id = %s"
)
_INSERT_LOG = (
    "INSERT INTO kbsearch_searchlog (user_id, query, normalized, scope, source, result_count, "
    "created_at) SELECT %s, %s, %s, %s, %s, %s, %s FROM {no_wait} RETURNING id"
)


def log_search(
    *,
    user: User | AnonymousUser | None,
    query: str,
    result_count: int,
    scope: str = "",
    source: str = Source.SEARCH,
) -> SearchLog:
    """Record one search. Suggestions asked for while a question is typed make one row:
    a request within SUGGEST_COLLAPSE_SECONDS of the user's last one, whose text extends or
    shortens it, updates that row (unless an article was opened from it)."""
    text = " ".join(query.split())[:MAX_QUERY_LENGTH]
    normalized = text.lower()
    user_id = _user_id(user)
    now = timezone.now()
    if source == Source.SUGGEST and user_id is not None:
        last = (
            SearchLog.objects.filter(
                user_id=user_id,
                source=Source.SUGGEST,
                opened_article__isnull=True,
                created_at__gte=now - timedelta(seconds=SUGGEST_COLLAPSE_SECONDS),
            )
            .order_by("-created_at", "-id")
            .first()
        )
        if last is not None and (
            normalized.startswith(last.normalized) or last.normalized.startswith(normalized)
        ):
            sql = _UPDATE_LOG.format(no_wait=_no_wait())
            with connection.cursor() as cursor:
                cursor.execute(sql, [text, normalized, result_count, now, last.pk])
            last.query, last.normalized, last.result_count = text, normalized, result_count
            last.created_at = now
            return last
    sql = _INSERT_LOG.format(no_wait=_no_wait())
    with connection.cursor() as cursor:
        cursor.execute(sql, [user_id, text, normalized, scope[:100], source, result_count, now])
        (pk,) = cursor.fetchone()
    entry = SearchLog(
        pk=pk,
        user_id=user_id,
        query=text,
        normalized=normalized,
        scope=scope[:100],
        source=source,
        result_count=result_count,
        created_at=now,
    )
    entry._state.adding = False
    entry._state.db = connection.alias
    return entry


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
