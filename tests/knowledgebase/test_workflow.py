"""The transition table, exhaustively, and the rules around it."""

import pytest

from core.errors import Forbidden
from knowledgebase.errors import (
    InvalidTransition,
    ReasonRequired,
    ReviewerMustDiffer,
    UnknownTransition,
)
from knowledgebase.models import Article
from knowledgebase.services import article_transition
from knowledgebase.states import TRANSITIONS, ArticleStatus, transitions_from
from tests.core.factories import AgentFactory
from tests.knowledgebase.factories import ArticleFactory

pytestmark = pytest.mark.django_db

S = ArticleStatus
EXPECTED = {
    ("submit", S.DRAFT): S.IN_REVIEW,
    ("approve", S.IN_REVIEW): S.PUBLISHED,
    ("reject", S.IN_REVIEW): S.DRAFT,
    ("revise", S.PUBLISHED): S.DRAFT,
    ("archive", S.DRAFT): S.ARCHIVED,
    ("archive", S.IN_REVIEW): S.ARCHIVED,
    ("archive", S.PUBLISHED): S.ARCHIVED,
    ("unarchive", S.ARCHIVED): S.DRAFT,
}


def test_the_table_is_exactly_the_expected_one():
    table = {(name, source): t.target for name, t in TRANSITIONS.items() for source in t.sources}
    assert table == EXPECTED


def test_transitions_from_lists_them_in_order():
    assert [t.name for t in transitions_from(S.IN_REVIEW)] == ["approve", "reject", "archive"]
    assert [t.name for t in transitions_from(S.ARCHIVED)] == ["unarchive"]


@pytest.mark.parametrize("name", sorted(TRANSITIONS))
@pytest.mark.parametrize("source", list(S))
def test_every_transition_from_every_status(name, source):
    article = ArticleFactory.create(status=source)
    reviewer = AgentFactory.create()
    target = EXPECTED.get((name, source))
    if target is None:
        with pytest.raises(InvalidTransition):
            article_transition(article=article, name=name, actor=reviewer, reason="why")
        article.refresh_from_db()
        assert article.status == source
        return
    result = article_transition(article=article, name=name, actor=reviewer, reason="why")
    article.refresh_from_db()
    assert result.status == article.status == target


def test_unknown_transition_is_refused():
    article = ArticleFactory.create(status=S.DRAFT)
    with pytest.raises(UnknownTransition):
        article_transition(article=article, name="publish_now", actor=article.author)


def test_only_agents_change_status(member):
    article = ArticleFactory.create(status=S.DRAFT)
    with pytest.raises(Forbidden):
        article_transition(article=article, name="submit", actor=member)
    article.refresh_from_db()
    assert article.status == S.DRAFT


def test_the_author_cannot_publish_their_own_article():
    article = ArticleFactory.create(status=S.IN_REVIEW)
    with pytest.raises(ReviewerMustDiffer):
        article_transition(article=article, name="approve", actor=article.author)
    article.refresh_from_db()
    assert article.status == S.IN_REVIEW
    assert article.published_at is None
    assert article.history.count() == 1


def test_the_author_may_publish_when_the_setting_allows(settings):
    settings.KB_REVIEWER_MUST_DIFFER = False
    article = ArticleFactory.create(status=S.IN_REVIEW)
    article_transition(article=article, name="approve", actor=article.author)
    article.refresh_from_db()
    assert article.status == S.PUBLISHED
    assert article.reviewer == article.author


def test_approving_records_reviewer_and_publication_and_a_fresh_review_date():
    from datetime import date

    import time_machine

    article = ArticleFactory.create(status=S.IN_REVIEW, review_by=date(2026, 1, 1))
    reviewer = AgentFactory.create()
    with time_machine.travel("2026-03-02 10:00Z", tick=False):
        article_transition(article=article, name="approve", actor=reviewer)
    article.refresh_from_db()
    assert article.reviewer == reviewer
    assert article.published_at is not None
    assert article.published_at.isoformat() == "2026-03-02T10:00:00+00:00"
    assert article.review_by == date(2026, 5, 31)  # 90 days on
    assert article.history.order_by("-history_id").first().history_change_reason == (
        "Approve and publish"
    )


def test_rejecting_needs_a_reason_and_keeps_it_in_the_history():
    article = ArticleFactory.create(status=S.IN_REVIEW)
    reviewer = AgentFactory.create()
    with pytest.raises(ReasonRequired):
        article_transition(article=article, name="reject", actor=reviewer, reason="  ")
    article_transition(article=article, name="reject", actor=reviewer, reason="Add screenshots")
    article.refresh_from_db()
    assert article.status == S.DRAFT
    latest = article.history.first()
    assert latest.history_change_reason == "Send back to draft: Add screenshots"
    assert latest.history_user == reviewer


def test_submitting_stamps_the_time():
    article = ArticleFactory.create(status=S.DRAFT)
    article_transition(article=article, name="submit", actor=article.author)
    assert Article.objects.get(pk=article.pk).submitted_at is not None
