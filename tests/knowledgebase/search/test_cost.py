"""What a search costs in statements (pinned: no query per result), and the search log's
write outside a transaction (committed without waiting for the disk, the setting reset)."""

from __future__ import annotations

import pytest
from django.db import connection

from knowledgebase.models import Audience
from knowledgebase.search import embeddings
from knowledgebase.search.models import SearchLog
from knowledgebase.search.services import CANDIDATES, embed_pending, log_search, search, suggest
from tests.knowledgebase.factories import ArticleFactory

SEARCH = "/api/v1/kb/search/"
SUGGEST = "/api/v1/kb/suggest/"

# Token, whether any article has an embedding (remembered for a minute), the connection's
# settings for the ranking (once per connection; inside a transaction, as here, every
# time: a rollback undoes a SET), the ranking (one prepared statement: the plan, both
# sides, the blend, the page's articles and their snippets, the reader's communities read
# inside it, and the search log's row written).
SEARCH_QUERIES = 4
# The same: the suggestion's log row is read and written (typing collapses into it) within
# the ranking's statement too.
SUGGEST_QUERIES = 4


def _articles(n: int, community) -> None:
    for i in range(n):
        restricted = i % 3 == 0
        ArticleFactory.create(
            title=f"Printer queue stuck {i}",
            slug=f"printer-{n}-{i}",
            body="Restart the print spooler, then clear the printer queue.",
            audience=Audience.RESTRICTED if restricted else Audience.PUBLIC,
            communities=[community] if restricted else [],
        )
    embed_pending()


@pytest.mark.django_db
@pytest.mark.parametrize("n", [3, 12])
def test_a_search_costs_the_same_statements_however_many_results(
    api_as, member, community, fake_encoder, django_assert_num_queries, n
):
    _articles(n, community)
    connection._kbsearch_session_for = None  # type: ignore[attr-defined]  # a new connection
    client = api_as(member)
    with django_assert_num_queries(SEARCH_QUERIES):
        body = client.get(SEARCH, {"q": "printer queue"}).json()
    assert (body["count"], body["semantic"]) == (n, True)
    assert all("<mark>" in hit["title_html"] for hit in body["results"])
    with django_assert_num_queries(SUGGEST_QUERIES - 1):  # embeddings seen
        assert len(client.get(SUGGEST, {"q": "printer qu"}).json()["results"]) == 3


@pytest.mark.django_db
def test_suggestions_carry_no_snippets(member, community, fake_encoder):
    _articles(4, community)
    hits = suggest(user=member, q="printer queue", log=False).hits
    assert [hit.snippet_html for hit in hits] == ["", "", ""]


@pytest.mark.django_db
def test_full_text_candidates_are_bounded_before_ranking(member, community, monkeypatch):
    _articles(6, community)
    monkeypatch.setattr("knowledgebase.search.services.CANDIDATES", 2)
    result = search(user=member, q="printer queue", mode="lexical", log=False)
    assert result.total == 2
    assert CANDIDATES == 200


@pytest.mark.django_db(transaction=True)
def test_the_search_log_outside_a_transaction_commits_and_resets_the_setting():
    embeddings.use_encoder(None)
    assert not connection.in_atomic_block
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = on")  # the test settings turn it off
    entry = log_search(user=None, query="  Printer   queue ", result_count=2)
    assert SearchLog.objects.filter(pk=entry.pk).values_list("query", "normalized").get() == (
        "Printer queue",
        "printer queue",
    )
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"
        cursor.execute("SET synchronous_commit = off")


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_ranking_is_prepared_and_set_up_once_per_connection(
    member, community, fake_encoder, django_assert_num_queries
):
    _articles(3, community)
    connection._kbsearch_session_for = None  # type: ignore[attr-defined]  # a new connection
    first = search(user=member, q="printer queue", log=False)
    with django_assert_num_queries(1):  # the ranking alone: settings kept, embeddings seen
        again = search(user=member, q="printer queue", log=False)
    assert [hit.article_id for hit in again.hits] == [hit.article_id for hit in first.hits]
    with connection.cursor() as cursor:
        cursor.execute("SHOW plan_cache_mode")
        assert cursor.fetchone()[0] == "force_generic_plan"
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE generic_plans > 0")
        assert cursor.fetchone()[0] == 1
