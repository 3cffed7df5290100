from datetime import date

import pytest
import time_machine

from core.errors import Forbidden
from core.models import Event
from knowledgebase.errors import (
    ArticleArchived,
    ArticleInvalid,
    InvalidTransition,
    UnknownCategory,
    UnknownVersion,
)
from knowledgebase.models import Article, ArticleFeedback, Audience, ReviewReminder
from knowledgebase.services import (
    article_create,
    article_create_from_ticket,
    article_mark_reviewed,
    article_restore_version,
    article_update,
    article_viewed,
    feedback_record,
    period_start,
    review_reminders_send,
)
from knowledgebase.states import ArticleStatus
from tests.communities.factories import CommunityFactory
from tests.core.factories import AgentFactory, UserFactory
from tests.knowledgebase.factories import ArticleFactory, KbCategoryFactory
from tests.tickets.factories import MessageFactory, TicketFactory

pytestmark = pytest.mark.django_db


def test_create_makes_a_draft_owned_by_its_author_with_a_unique_slug(agent):
    category = KbCategoryFactory.create()
    first = article_create(
        actor=agent,
        data={"title": "Reset your password", "body": "Click **Forgot**.", "category": category.slug,
              "tags": ["Password", " access ", "password"]},
    )  # fmt: skip
    second = article_create(actor=agent, data={"title": "Reset your password", "body": "x"})
    assert (first.status, first.author, first.owner) == (ArticleStatus.DRAFT, agent, agent)
    assert (first.slug, second.slug) == ("reset-your-password", "reset-your-password-2")
    assert first.tags == ["password", "access"]
    assert first.category == category
    assert first.body_html == "<p>Click <strong>Forgot</strong>.</p>\n"
    assert first.history.count() == 1


def test_create_refuses_bad_input_and_writes_nothing(agent, member):
    cases = [
        ({"title": " ", "body": "x"}, ArticleInvalid, "title"),
        ({"title": "t", "body": ""}, ArticleInvalid, "body"),
        ({"title": "t", "body": "x", "kind": "poem"}, ArticleInvalid, "kind"),
        ({"title": "t", "body": "x", "audience": "restricted"}, ArticleInvalid, "communities"),
        ({"title": "t", "body": "x", "category": "nope"}, UnknownCategory, "category"),
        ({"title": "t", "body": "x", "status": "published"}, ArticleInvalid, "status"),
        ({"title": "t", "body": "x", "owner": member}, ArticleInvalid, "owner"),
    ]
    for data, error, field in cases:
        with pytest.raises(error) as caught:
            article_create(actor=agent, data=data)
        assert caught.value.field == field
    with pytest.raises(Forbidden):
        article_create(actor=member, data={"title": "t", "body": "x"})
    assert Article.objects.count() == 0


def test_a_taken_slug_is_refused(agent):
    ArticleFactory.create(slug="taken")
    with pytest.raises(ArticleInvalid) as caught:
        article_create(actor=agent, data={"title": "t", "body": "x", "slug": "taken"})
    assert caught.value.field == "slug"


def test_restricted_articles_keep_their_communities_and_others_drop_them(agent):
    a = CommunityFactory.create()
    article = article_create(
        actor=agent,
        data={"title": "t", "body": "x", "audience": "restricted", "communities": [a]},
    )
    assert list(article.communities.all()) == [a]
    article_update(article=article, actor=agent, data={"audience": "public"})
    assert list(article.communities.all()) == []


def test_update_re_renders_the_body_and_keeps_a_version(agent):
    article = ArticleFactory.create(body="old")
    article_update(article=article, actor=agent, data={"body": "# New"})
    article.refresh_from_db()
    assert article.body_html == "<h1>New</h1>\n"
    assert article.history.count() == 2
    assert article.history.first().history_user == agent


def test_an_archived_article_is_not_edited(agent):
    article = ArticleFactory.create(status=ArticleStatus.ARCHIVED, body="old")
    with pytest.raises(ArticleArchived):
        article_update(article=article, actor=agent, data={"body": "new"})
    article.refresh_from_db()
    assert article.body == "old"


def test_restore_brings_back_an_earlier_version_as_a_new_one(agent):
    article = article_create(actor=agent, data={"title": "First", "body": "one"})
    original = article.history.first()
    article_update(article=article, actor=agent, data={"title": "Second", "body": "two"})
    article_restore_version(article=article, history_id=original.history_id, actor=agent)
    article.refresh_from_db()
    assert (article.title, article.body, article.body_html) == ("First", "one", "<p>one</p>\n")
    assert article.history.count() == 3
    assert article.history.first().history_change_reason.startswith("Restored the version of")


def test_restore_of_another_articles_version_is_refused(agent):
    article, other = ArticleFactory.create(), ArticleFactory.create()
    with pytest.raises(UnknownVersion):
        article_restore_version(
            article=article, history_id=other.history.first().history_id, actor=agent
        )


def test_feedback_counts_one_vote_per_reader_who_may_change_it(member):
    article = ArticleFactory.create()
    feedback_record(article=article, user=member, helpful=True)
    feedback_record(article=article, user=member, helpful=True)
    article.refresh_from_db()
    assert (article.helpful_yes, article.helpful_no) == (1, 0)
    feedback_record(article=article, user=member, helpful=False, comment="Step 3 is wrong")
    article.refresh_from_db()
    assert (article.helpful_yes, article.helpful_no) == (0, 1)
    vote = ArticleFeedback.objects.get()
    assert (vote.helpful, vote.comment) == (False, "Step 3 is wrong")


def test_anonymous_votes_each_count():
    article = ArticleFactory.create()
    feedback_record(article=article, user=None, helpful=True)
    feedback_record(article=article, user=None, helpful=False)
    article.refresh_from_db()
    assert (article.helpful_yes, article.helpful_no) == (1, 1)


def test_feedback_on_a_draft_or_too_long_is_refused(member):
    with pytest.raises(InvalidTransition):
        feedback_record(
            article=ArticleFactory.create(status=ArticleStatus.DRAFT), user=member, helpful=True
        )
    with pytest.raises(ArticleInvalid):
        feedback_record(
            article=ArticleFactory.create(), user=member, helpful=True, comment="x" * 2001
        )
    assert ArticleFeedback.objects.count() == 0


def test_a_view_is_one_update_and_no_version(django_assert_num_queries):
    article = ArticleFactory.create()
    with django_assert_num_queries(1):
        article_viewed(article_id=article.pk)
    article.refresh_from_db()
    assert article.view_count == 1
    assert article.history.count() == 1


def test_an_article_from_a_ticket_holds_the_public_conversation_and_waits_for_review(agent):
    ticket = TicketFactory.create(
        subject="VPN drops every hour", description="Since Monday the VPN drops.", tags=["vpn"]
    )
    MessageFactory.create(ticket=ticket, author=agent, body="Renew the certificate in Settings.")
    MessageFactory.create(ticket=ticket, author=agent, kind="internal", body="SECRET note")
    MessageFactory.create(ticket=ticket, body="Thanks, that worked")
    article = article_create_from_ticket(ticket=ticket, actor=agent)
    assert article.status == ArticleStatus.IN_REVIEW
    assert article.title == "VPN drops every hour"
    assert article.audience == Audience.STAFF
    assert article.tags == ["vpn"]
    assert "Since Monday the VPN drops." in article.body
    assert "Renew the certificate in Settings." in article.body
    assert "SECRET" not in article.body
    assert "Thanks, that worked" not in article.body
    assert list(article.linked_tickets.all()) == [ticket]


def test_only_agents_write_articles_from_tickets(member):
    ticket = TicketFactory.create()
    with pytest.raises(Forbidden):
        article_create_from_ticket(ticket=ticket, actor=member)
    assert Article.objects.count() == 0


def test_mark_reviewed_moves_the_review_date_a_full_interval(agent):
    article = ArticleFactory.create(review_by=date(2026, 1, 1))
    with time_machine.travel("2026-02-01 09:00Z", tick=False):
        article_mark_reviewed(article=article, actor=agent)
    article.refresh_from_db()
    assert article.review_by == date(2026, 5, 2)


# ---------------------------------------------------------------- reminders


def test_periods_are_counted_from_the_review_by_date(settings):
    settings.KB_REVIEW_REMINDER_PERIOD_DAYS = 7
    due = date(2026, 3, 1)
    assert period_start(due, date(2026, 3, 2)) == due
    assert period_start(due, date(2026, 3, 7)) == due
    assert period_start(due, date(2026, 3, 8)) == date(2026, 3, 8)
    assert period_start(due, date(2026, 3, 15)) == date(2026, 3, 15)


def test_owners_of_overdue_articles_are_reminded_exactly_once_per_period(settings):
    settings.KB_REVIEW_REMINDER_PERIOD_DAYS = 7
    owner = AgentFactory.create()
    overdue = ArticleFactory.create(author=owner, review_by=date(2026, 3, 1))
    ArticleFactory.create(review_by=date(2026, 3, 10))  # not yet due
    ArticleFactory.create(review_by=date(2026, 3, 1), status=ArticleStatus.DRAFT)  # not published
    ArticleFactory.create(review_by=None)
    with time_machine.travel("2026-03-03 08:00Z", tick=False):
        assert review_reminders_send() == 1
        assert review_reminders_send() == 0
    with time_machine.travel("2026-03-07 23:00Z", tick=False):
        assert review_reminders_send() == 0  # same period
    with time_machine.travel("2026-03-08 08:00Z", tick=False):
        assert review_reminders_send() == 1  # the next period
        assert review_reminders_send() == 0
    reminders = ReviewReminder.objects.order_by("period_start")
    assert [(r.article_id, r.owner_id, r.period_start) for r in reminders] == [
        (overdue.pk, owner.pk, date(2026, 3, 1)),
        (overdue.pk, owner.pk, date(2026, 3, 8)),
    ]
    events = Event.objects.filter(name="kb.review_due").order_by("pk")
    assert [e.payload["reminder_id"] for e in events] == [r.pk for r in reminders]


def test_a_reviewed_article_is_not_reminded_until_its_new_date_passes(agent):
    article = ArticleFactory.create(review_by=date(2026, 3, 1))
    with time_machine.travel("2026-03-03 08:00Z", tick=False):
        assert review_reminders_send() == 1
        article_mark_reviewed(article=article, actor=agent)
        assert review_reminders_send() == 0
    with time_machine.travel("2026-06-02 08:00Z", tick=False):
        assert review_reminders_send() == 1


def test_the_reminder_mails_the_owner(mailoutbox, settings):
    from knowledgebase.notifications import remind_owner_review_due

    owner = AgentFactory.create(email="owner@desk.example")
    ArticleFactory.create(author=owner, review_by=date(2026, 3, 1), title="SLA explained")
    with time_machine.travel("2026-03-03 08:00Z", tick=False):
        review_reminders_send()
    event = Event.objects.get(name="kb.review_due")
    remind_owner_review_due(event=event)
    assert [(m.subject, m.to) for m in mailoutbox] == [
        ("Review due: SLA explained", ["owner@desk.example"])
    ]
    assert "2026-03-01" in mailoutbox[0].body


def test_no_reminder_mail_for_an_article_archived_since(mailoutbox):
    from knowledgebase.notifications import remind_owner_review_due

    article = ArticleFactory.create(review_by=date(2026, 3, 1))
    with time_machine.travel("2026-03-03 08:00Z", tick=False):
        review_reminders_send()
    Article.objects.filter(pk=article.pk).update(status=ArticleStatus.ARCHIVED)
    remind_owner_review_due(event=Event.objects.get(name="kb.review_due"))
    assert mailoutbox == []


def test_users_who_are_not_agents_cannot_own_articles(agent):
    article = ArticleFactory.create()
    with pytest.raises(ArticleInvalid):
        article_update(article=article, actor=agent, data={"owner": UserFactory.create()})


def test_the_beat_task_runs_the_reminders_and_is_scheduled(settings):
    from knowledgebase.tasks import remind_reviews

    ArticleFactory.create(review_by=date(2026, 3, 1))
    with time_machine.travel("2026-03-03 08:00Z", tick=False):
        assert remind_reviews() == 1
        assert remind_reviews() == 0
    schedule = settings.CELERY_BEAT_SCHEDULE["kb-remind-reviews"]
    assert schedule["task"] == "knowledgebase.remind_reviews"
