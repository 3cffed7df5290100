"""The search log, deflections (with a clock) and the desk's analytics page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from knowledgebase.search.models import SearchLog
from knowledgebase.search.selectors import (
    searches_with_outcome,
    searches_without_result,
    top_deflecting_articles,
    top_searches,
    totals,
)
from knowledgebase.search.services import (
    log_search,
    record_answered,
    record_open,
    search,
    suggest,
)
from tests.knowledgebase.factories import ArticleFactory
from tests.tickets.factories import TicketFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SINCE = T0 - timedelta(days=30)


def test_suggestions_asked_while_typing_make_one_log_row(member):
    with time_machine.travel(T0, tick=False) as clock:
        for text in ["vpn", "vpn keeps", "vpn keeps dropping"]:
            log_search(user=member, query=text, result_count=2, source="suggest")
            clock.shift(timedelta(seconds=5))
        log_search(user=member, query="printer", result_count=0, source="suggest")
        clock.shift(timedelta(seconds=120))
        log_search(user=member, query="printer toner", result_count=1, source="suggest")
    assert list(SearchLog.objects.order_by("id").values_list("query", "result_count")) == [
        ("vpn keeps dropping", 2), ("printer", 0), ("printer toner", 1),
    ]  # fmt: skip


def test_suggest_logs_the_typed_question(member):
    ArticleFactory.create(title="VPN drops every hour")
    result = suggest(user=member, q="vpn drops")
    log = SearchLog.objects.get()
    assert (result.search_id, log.query, log.source, log.result_count) == (
        log.pk, "vpn drops", "suggest", 1,
    )  # fmt: skip


def test_suggestions_and_searches_log_within_the_ranking_as_log_search_does(
    member, agent, settings
):
    """The ranking's statement writes the log row: suggestions typed in a row collapse, an
    anonymous suggestion and a search insert theirs, each with its own result count."""
    settings.KB_ANONYMOUS_READ = True
    for title in ["VPN drops every hour", "VPN keeps asking for a password", "Printer jams"]:
        ArticleFactory.create(title=title)
    with time_machine.travel(T0, tick=False) as clock:
        typed = [suggest(user=member, q=text) for text in ["vpn", "vpn keeps", "vpn keeps drop"]]
        clock.shift(timedelta(seconds=5))
        anonymous = suggest(user=None, q="printer")
        found = search(user=agent, q="vpn", category=None)

    rows = list(
        SearchLog.objects.order_by("id").values_list(
            "id", "user_id", "query", "source", "result_count", "created_at"
        )
    )
    assert rows == [
        (typed[0].search_id, member.pk, "vpn keeps drop", "suggest", len(typed[2].hits), T0),
        (anonymous.search_id, None, "printer", "suggest", 1, T0 + timedelta(seconds=5)),
        (found.search_id, agent.pk, "vpn", "search", found.total, T0 + timedelta(seconds=5)),
    ]
    assert typed[0].search_id == typed[1].search_id == typed[2].search_id
    assert found.total == 2


@pytest.fixture
def opened(member):
    """At T0 a member typed a question, was offered an article and opened it."""
    article = ArticleFactory.create(title="VPN drops every hour")
    with time_machine.travel(T0, tick=False):
        entry = log_search(user=member, query="vpn drops", result_count=1, source="suggest")
        record_open(user=member, search_id=entry.pk, article_id=article.pk)
    return entry, article


def deflections(now):
    return totals(since=SINCE, now=now).deflections


def test_an_opened_suggestion_counts_as_a_deflection_once_seven_days_pass_without_a_request(
    opened,
):
    entry, article = opened
    assert deflections(T0 + timedelta(days=6, hours=23)) == 0
    assert deflections(T0 + timedelta(days=7)) == 1
    rows = top_deflecting_articles(since=SINCE, now=T0 + timedelta(days=8))
    assert [(r.article_id, r.deflections, r.answered) for r in rows] == [(article.pk, 1, 0)]


def test_a_request_within_seven_days_means_no_deflection_and_a_ticket_followed(opened, member):
    entry, _ = opened
    TicketFactory.create(requester=member, community=member.memberships.get().community,
                         created_at=T0 + timedelta(days=3))  # fmt: skip
    assert deflections(T0 + timedelta(days=30)) == 0
    assert [row.ticket_followed for row in searches_with_outcome(since=SINCE)] == [True]  # type: ignore[attr-defined]
    assert totals(since=SINCE, now=T0 + timedelta(days=30)).tickets_followed == 1


def test_a_request_after_the_window_does_not_undo_the_deflection(opened, member):
    TicketFactory.create(requester=member, community=member.memberships.get().community,
                         created_at=T0 + timedelta(days=9))  # fmt: skip
    assert deflections(T0 + timedelta(days=30)) == 1
    assert [row.ticket_followed for row in searches_with_outcome(since=SINCE)] == [False]  # type: ignore[attr-defined]


def test_this_answered_my_question_counts_at_once_and_only_once(opened, member):
    entry, article = opened
    with time_machine.travel(T0 + timedelta(minutes=2), tick=False):
        record_answered(user=member, search_id=entry.pk, article_id=article.pk)
        record_answered(user=member, search_id=entry.pk, article_id=article.pk)
    entry.refresh_from_db()
    assert entry.answered_at == T0 + timedelta(minutes=2)
    assert deflections(T0 + timedelta(minutes=3)) == 1
    rows = top_deflecting_articles(since=SINCE, now=T0 + timedelta(minutes=3))
    assert [(r.deflections, r.answered) for r in rows] == [(1, 1)]


def test_an_opened_search_result_is_not_a_deflection_by_itself(member):
    article = ArticleFactory.create(title="VPN drops every hour")
    with time_machine.travel(T0, tick=False):
        entry = log_search(user=member, query="vpn drops", result_count=1)
        record_open(user=member, search_id=entry.pk, article_id=article.pk)
    assert deflections(T0 + timedelta(days=30)) == 0


def test_top_searches_and_searches_without_result(member, agent):
    with time_machine.travel(T0, tick=False):
        for user, text, count in [
            (member, "VPN drops", 3), (agent, "vpn  drops", 1), (member, "printer", 2),
            (member, "quantum flux", 0), (agent, "quantum flux", 0), (member, "zebra", 0),
        ]:  # fmt: skip
            log_search(user=user, query=text, result_count=count)
    assert [(r.query, r.searches, r.average_results) for r in top_searches(since=SINCE)] == [
        ("quantum flux", 2, 0.0), ("vpn drops", 2, 2.0), ("printer", 1, 2.0), ("zebra", 1, 0.0),
    ]  # fmt: skip
    assert [(r.query, r.searches) for r in searches_without_result(since=SINCE)] == [
        ("quantum flux", 2), ("zebra", 1),
    ]  # fmt: skip


def test_the_desk_page_shows_the_figures_in_a_fixed_number_of_queries(
    client, agent, opened, member, django_assert_num_queries
):
    log_search(user=member, query="nothing like this", result_count=0)
    client.force_login(agent)
    client.get("/desk/kb/analytics/")  # warm the session
    with (
        time_machine.travel(T0 + timedelta(days=8), tick=False),
        django_assert_num_queries(QUERIES),
    ):
        response = client.get("/desk/kb/analytics/?days=30")
    assert response.status_code == 200
    page = response.content.decode()
    assert '<dd data-figure="searches">2</dd>' in page
    assert '<dd data-figure="deflections">1</dd>' in page
    assert "nothing like this" in page
    assert "VPN drops every hour" in page


QUERIES = 7


@pytest.mark.parametrize("role", ["member", "representative"])
def test_people_who_are_not_agents_get_404_from_the_analytics_page(client, community, role):
    from tests.communities.factories import MembershipFactory

    client.force_login(MembershipFactory.create(community=community, role=role).user)
    assert client.get("/desk/kb/analytics/").status_code == 404
