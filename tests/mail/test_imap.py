"""IMAP polling against a real server (dovecot on a free port, throwaway configuration):
mail delivered -> ticket created -> message marked; a poller killed between the commit
and the marking re-reads the message and makes no duplicate."""

from __future__ import annotations

import pytest

from tests.mail.mime import raw_mail
from tests.mail.servers import IMAPServer, imap_purge
from tickets.mail.imap import mailbox_poll, mailboxes_poll
from tickets.mail.models import InboundMessage, Mailbox, MailThread, Source, Status
from tickets.models import Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def imap(imap_server: IMAPServer, settings) -> IMAPServer:
    settings.MAIL_MAILBOX_PASSWORDS = {"support": imap_server.password}
    imap_purge(imap_server)
    return imap_server


@pytest.fixture
def mailbox(imap: IMAPServer) -> Mailbox:
    return Mailbox.objects.create(
        name="Support", host="127.0.0.1", port=imap.port, security="none",
        username=imap.user, password_name="support",
    )  # fmt: skip


def test_delivered_mail_becomes_a_ticket_and_is_marked_seen(imap, mailbox, representative):
    imap.deliver(raw_mail(sender=representative.email, message_id="<imap-1@client.example>"))
    assert imap.seen() == [False]

    result = mailbox_poll(mailbox=mailbox)

    assert (result.fetched, result.taken, result.error) == (1, 1, "")
    inbound = InboundMessage.objects.get()
    assert (inbound.source, inbound.status, inbound.message_id) == (
        Source.IMAP, Status.TICKET_OPENED, "<imap-1@client.example>",
    )  # fmt: skip
    assert Ticket.objects.get().requester == representative
    assert imap.seen() == [True]
    mailbox.refresh_from_db()
    assert mailbox.last_polled_at is not None
    assert mailbox.last_error == ""
    # Seen mail is not read again.
    assert mailboxes_poll() == 0


class Killed(BaseException):
    """The poller's process dies here (not an Exception: nothing catches it)."""


def test_a_poller_killed_between_the_commit_and_the_marking_makes_no_duplicate(
    imap, mailbox, representative
):
    imap.deliver(raw_mail(sender=representative.email, message_id="<imap-2@client.example>"))

    def die(*args: object) -> None:
        raise Killed

    with pytest.raises(Killed):
        mailbox_poll(mailbox=mailbox, mark=die)

    assert Ticket.objects.count() == 1  # committed
    assert imap.seen() == [False]  # not marked

    result = mailbox_poll(mailbox=mailbox)

    assert (result.fetched, result.taken) == (1, 1)
    assert Ticket.objects.count() == 1
    assert InboundMessage.objects.count() == 1
    assert MailThread.objects.count() == 1
    assert imap.seen() == [True]


def test_taken_mail_is_moved_when_the_mailbox_says_so(imap, mailbox, representative):
    imap.deliver(raw_mail(sender="nobody@example.net"))
    imap.deliver(raw_mail(sender=representative.email), folder="Done")  # makes the folder
    imap_purge(imap, ("Done",))
    mailbox.move_to = "Done"
    mailbox.save()

    assert mailbox_poll(mailbox=mailbox).taken == 1

    assert imap.seen("INBOX") == []
    assert len(imap.seen("Done")) == 1
    assert InboundMessage.objects.get().status == Status.HELD


def test_a_wrong_password_is_recorded_and_nothing_raises(imap, mailbox, settings):
    settings.MAIL_MAILBOX_PASSWORDS = {"support": "wrong"}

    result = mailbox_poll(mailbox=mailbox)

    assert result.taken == 0
    assert "MailboxLoginError" in result.error
    mailbox.refresh_from_db()
    assert "MailboxLoginError" in mailbox.last_error
