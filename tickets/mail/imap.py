"""IMAP polling: unseen mail in each active Mailbox goes through intake, then is marked.

The order is what makes it exactly-once: a message is fetched without touching its flags
(BODY.PEEK), `mail_intake` commits its ticket (or refusal), and only then is the message
marked Seen (or moved to the mailbox's `move_to` folder). A poller killed between the
commit and the marking reads the message again next time; its Message-ID is already
recorded, so intake returns the existing row and adds nothing, and the message is marked.

Two pollers never work one mailbox at once: each takes a PostgreSQL advisory lock on the
mailbox's id for the length of its poll (a session lock, so intake's own transactions
commit as usual).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.utils import timezone
from imap_tools import AND, BaseMailBox, MailBox, MailBoxStartTls, MailBoxUnencrypted

from tickets.mail.models import Mailbox, Source
from tickets.mail.services import mail_intake

logger = logging.getLogger(__name__)

_LOCK_NAMESPACE = 7_204_911  # advisory-lock key space of the mail poller


@dataclass(frozen=True)
class PollResult:
    fetched: int
    taken: int
    error: str = ""


def mailbox_password(mailbox: Mailbox) -> str:
    """The password named by the mailbox: MAIL_MAILBOX_PASSWORDS, else the environment."""
    passwords = settings.MAIL_MAILBOX_PASSWORDS
    if mailbox.password_name in passwords:
        return str(passwords[mailbox.password_name])
    return os.environ.get(mailbox.password_name, "")


def _connect(mailbox: Mailbox) -> BaseMailBox:
    timeout = settings.MAIL_IMAP_TIMEOUT_SECONDS
    client: BaseMailBox
    if mailbox.security == Mailbox.Security.SSL:
        client = MailBox(mailbox.host, port=mailbox.port, timeout=timeout)
    elif mailbox.security == Mailbox.Security.STARTTLS:
        client = MailBoxStartTls(mailbox.host, port=mailbox.port, timeout=timeout)
    else:
        client = MailBoxUnencrypted(mailbox.host, port=mailbox.port, timeout=timeout)
    return client.login(mailbox.username, mailbox_password(mailbox), initial_folder=mailbox.folder)


def _fetch_raw(client: BaseMailBox, uid: str) -> bytes | None:
    typ, data = client.client.uid("FETCH", uid, "(BODY.PEEK[])")
    if typ != "OK":
        return None
    for part in data:
        if isinstance(part, tuple) and len(part) == 2 and isinstance(part[1], bytes):
            return part[1]
    return None


def _mark(client: BaseMailBox, mailbox: Mailbox, uid: str) -> None:
    if mailbox.move_to:
        client.move(uid, mailbox.move_to)
    else:
        client.flag(uid, "\\Seen", True)


def mailbox_poll(
    *, mailbox: Mailbox, mark: Callable[[BaseMailBox, Mailbox, str], None] = _mark
) -> PollResult:
    """Take every unseen message of one mailbox. Never raises for a message (intake
    quarantines what it cannot read); a connection error is recorded on the mailbox."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [_LOCK_NAMESPACE, mailbox.pk])
        (locked,) = cursor.fetchone()
    if not locked:
        return PollResult(fetched=0, taken=0, error="Another poller has this mailbox.")
    fetched = taken = 0
    error = ""
    try:
        with _connect(mailbox) as client:
            for uid in client.uids(AND(seen=False)):
                raw = _fetch_raw(client, uid)
                if raw is None:
                    continue
                fetched += 1
                inbound = mail_intake(raw, source=Source.IMAP)  # committed when it returns
                logger.info("mailbox %s uid %s: %s", mailbox.name, uid, inbound)
                mark(client, mailbox, uid)
                taken += 1
    except Exception as exc:  # noqa: BLE001 - the next poll tries again
        error = f"{type(exc).__name__}: {exc}"[:2000]
        logger.warning("mailbox %s: %s", mailbox.name, error)
    finally:
        Mailbox.objects.filter(pk=mailbox.pk).update(
            last_polled_at=timezone.now(), last_error=error
        )
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_LOCK_NAMESPACE, mailbox.pk])
    return PollResult(fetched=fetched, taken=taken, error=error)


def mailboxes_poll() -> int:
    """Poll every active mailbox (beat, every MAIL_IMAP_POLL_SECONDS); how many taken."""
    total = 0
    for mailbox in Mailbox.objects.filter(active=True).order_by("pk"):
        total += mailbox_poll(mailbox=mailbox).taken
    return total
