from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest

from core.models import EventDelivery
from core.outbox import delivery_run
from tests.mail.servers import IMAPServer, SMTPCatcher, SMTPServer


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[SMTPServer]:
    with SMTPServer() as server:
        yield server


@pytest.fixture
def smtp(smtp_server: SMTPServer, settings: Any) -> Iterator[SMTPCatcher]:
    """A real SMTP server in this process receives what the desk sends."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = smtp_server.port
    settings.EMAIL_USE_TLS = False
    smtp_server.catcher.reset()
    yield smtp_server.catcher
    smtp_server.catcher.reset()


@pytest.fixture(scope="module")
def imap_server() -> Iterator[IMAPServer]:
    with IMAPServer() as server:
        yield server


@pytest.fixture
def mail_tasks() -> Iterator[list[int]]:
    """The ids handed to the `mail.send` task (nothing reaches a broker)."""
    sent: list[int] = []

    def record(*args: Any, **kwargs: Any) -> None:
        sent.append(kwargs["kwargs"]["mail_id"])

    with mock.patch("tickets.mail.tasks.send_mail.apply_async", side_effect=record):
        yield sent


def run_reactions(prefix: str = "tickets.notifications.") -> int:
    """Run the pending reactions whose handler starts with `prefix`; how many ran."""
    ran = 0
    for delivery in EventDelivery.objects.filter(
        handler__startswith=prefix, state=EventDelivery.State.PENDING
    ).order_by("pk"):
        ran += delivery_run(delivery_id=delivery.pk)
    return ran
