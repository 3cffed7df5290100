"""Thin tasks: each calls one knowledge-base service. Names, queues and the schedule are in
settings."""

from celery import shared_task
from django.db import InterfaceError, OperationalError


@shared_task(
    name="knowledgebase.remind_reviews",
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=3,
)
def remind_reviews() -> int:
    """Remind the owners of overdue articles (beat). Idempotent: once per article and period."""
    from knowledgebase.services import review_reminders_send

    return review_reminders_send()
