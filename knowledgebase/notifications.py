"""Mail the knowledge base sends, run by workers as reactions (supportdesk/events.py)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse

from core.models import Event
from knowledgebase.models import ReviewReminder
from knowledgebase.states import ArticleStatus

logger = logging.getLogger(__name__)


def remind_owner_review_due(*, event: Event) -> None:
    """An article's review-by date passed: tell its owner, once per period (the reminder
    row the event names was written once)."""
    reminder = (
        ReviewReminder.objects.select_related("article", "owner")
        .filter(pk=event.payload["reminder_id"])
        .first()
    )
    if reminder is None or reminder.article.status != ArticleStatus.PUBLISHED:
        return  # archived or withdrawn since: nothing to review
    article = reminder.article
    if not reminder.owner.email or not reminder.owner.is_active:
        logger.info("Review of article %s is due: its owner has no address", article.pk)
        return
    context = {
        "article": article,
        "owner": reminder.owner,
        "url": settings.SITE_URL + reverse("desk:kb_article", args=[article.pk]),
    }
    send_mail(
        subject=f"Review due: {article.title}",
        message=render_to_string("knowledgebase/email/review_due.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[reminder.owner.email],
    )
