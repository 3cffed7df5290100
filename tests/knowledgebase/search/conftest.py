from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence

import numpy as np
import pytest

from knowledgebase.search import embeddings, services


def bag_of_words(texts: Sequence[str]) -> np.ndarray:
    """A stand-in for the model: each word lights one of 384 dimensions, normalised. Texts
    sharing words are near; the real model is exercised by the tests marked `model`."""
    out = np.zeros((len(texts), embeddings.DIMENSIONS), dtype=np.float32)
    for row, text in enumerate(texts):
        for word in re.findall(r"[a-z]{3,}", text.lower()):
            digest = hashlib.blake2b(word[:5].encode(), digest_size=4).digest()
            out[row, int.from_bytes(digest, "big") % embeddings.DIMENSIONS] += 1.0
        norm = np.linalg.norm(out[row])
        if norm:
            out[row] /= norm
    return out


@pytest.fixture(autouse=True)
def _no_model_by_default(settings) -> Iterator[None]:
    """Full text alone unless a test asks for an encoder: the real model takes seconds."""
    settings.KB_SEARCH_SEMANTIC = False
    embeddings.use_encoder(None)
    embeddings.forget_storage()
    services._embedded_seen_at = 0.0
    yield
    embeddings.use_encoder(None)
    embeddings.forget_storage()
    services._embedded_seen_at = 0.0


@pytest.fixture
def fake_encoder(settings) -> None:
    settings.KB_SEARCH_SEMANTIC = True
    embeddings.use_encoder(bag_of_words)
