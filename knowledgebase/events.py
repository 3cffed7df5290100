"""The events the knowledge base publishes (supportdesk/events.py says who reacts)."""

from __future__ import annotations

from core import outbox
from knowledgebase.models import Article, ReviewReminder


def article_submitted(*, article: Article) -> None:
    outbox.publish("kb.article_submitted", article_id=article.pk)


def article_published(*, article: Article) -> None:
    outbox.publish("kb.article_published", article_id=article.pk)


def article_review_due(*, reminder: ReviewReminder) -> None:
    outbox.publish(
        "kb.review_due",
        article_id=reminder.article_id,
        reminder_id=reminder.pk,
        owner_id=reminder.owner_id,
    )
