"""Thin tasks: each calls one service of tickets.mail. Queues and the beat schedule are in
settings (queue `default`)."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.db import InterfaceError, OperationalError


@shared_task(
    bind=True,
    name="mail.send",
    autoretry_for=(OperationalError, InterfaceError),  # the database is away for a moment
    retry_backoff=True,
    max_retries=None,
)
def send_mail(self: Any, *, mail_id: int) -> str:
    """Send one queued mail. A transient SMTP error (4xx, connection) leaves it queued and
    the task retries after the row's backoff; the attempts are counted on the row, which
    fails it after MAIL_MAX_ATTEMPTS. Idempotent: a mail sent, failed, or held by another
    worker is left alone."""
    from tickets.mail.outbound import outbound_send

    result = outbound_send(mail_id=mail_id)
    if result.retry_in is not None:
        raise self.retry(countdown=result.retry_in, max_retries=None)
    return result.status


@shared_task(name="mail.sweep", autoretry_for=(OperationalError, InterfaceError), max_retries=3)
def sweep() -> int:
    """Beat: queued mail whose task was lost, and retries that are due."""
    from tickets.mail.outbound import outbound_sweep

    return outbound_sweep()


@shared_task(
    name="mail.poll_mailboxes", autoretry_for=(OperationalError, InterfaceError), max_retries=3
)
def poll_mailboxes() -> int:
    """Beat: fetch unseen mail from every active IMAP mailbox into intake."""
    from tickets.mail.imap import mailboxes_poll

    return mailboxes_poll()
