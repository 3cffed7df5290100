"""Every file of the shared corpus goes through intake and ends with a recorded outcome."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.email_corpus import senders_of
from core.models import Event
from tests.communities.factories import CommunityFactory, MembershipFactory
from tests.core.factories import UserFactory
from tests.mail.corpus import CORPUS, corpus_files
from tickets.mail.models import OutboundMail, Reason, Source, Status
from tickets.mail.services import mail_intake
from tickets.models import Channel, Ticket

FILES = corpus_files()


@pytest.fixture
def senders_known(db):
    """Everyone who sent a corpus message is a representative of one community."""
    community = CommunityFactory.create()
    for address in senders_of(FILES):
        MembershipFactory.create(
            community=community, role="representative", user=UserFactory.create(email=address)
        )
    return community


def test_the_corpus_is_there():
    assert len(FILES) > 150
    assert (CORPUS / "django-helpdesk" / "utf-nondecodable.eml") in FILES


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(Path(p).relative_to(CORPUS)))
def test_every_corpus_file_ends_with_a_recorded_outcome(path, senders_known):
    inbound = mail_intake(path.read_bytes(), source=Source.COMMAND)

    inbound.refresh_from_db()
    assert inbound.status in Status.values
    if inbound.status == Status.TICKET_OPENED:
        assert inbound.ticket is not None
        assert inbound.ticket.channel == Channel.EMAIL
        assert inbound.ticket_message is not None
        assert inbound.ticket_message.channel == Channel.EMAIL
        assert inbound.ticket.community == senders_known
    elif inbound.status == Status.REPLY_ADDED:
        assert inbound.ticket_message is not None
    else:
        assert inbound.reason in Reason.values
        assert inbound.detail
        assert inbound.ticket is None
        # Nothing happened that anything could react to: no mail goes out for it.
        assert not Event.objects.exists()
        assert not OutboundMail.objects.exists()
    if inbound.status == Status.QUARANTINED:
        assert inbound.error
    assert bytes(inbound.raw) == path.read_bytes()


@pytest.mark.parametrize(
    ("name", "status", "reason"),
    [
        ("cpython-test_email/msg_05.txt", Status.REFUSED, Reason.BOUNCE),
        ("cpython-test_email/msg_16.txt", Status.REFUSED, Reason.BOUNCE),
        ("django-helpdesk/utf-nondecodable.eml", Status.TICKET_OPENED, ""),
        ("django-helpdesk/all-special-chars.eml", Status.TICKET_OPENED, ""),
        ("django-helpdesk/forwarded-message.eml", Status.TICKET_OPENED, ""),
        ("django-helpdesk/pgp.eml", Status.TICKET_OPENED, ""),
        ("django-helpdesk/blank-body-with-attachment.eml", Status.TICKET_OPENED, ""),
        ("email_reply_parser-bodies/email_1_1.txt", Status.REFUSED, Reason.NO_SENDER),
    ],
)
def test_known_corpus_files_end_as_expected(name, status, reason, senders_known):
    inbound = mail_intake((CORPUS / name).read_bytes(), source=Source.COMMAND)

    assert (inbound.status, inbound.reason) == (status, reason)
    if status == Status.TICKET_OPENED:
        assert Ticket.objects.get() == inbound.ticket
    else:
        assert not Ticket.objects.exists()


NOISE = {Reason.BOUNCE, Reason.AUTO_REPLY, Reason.MAILING_LIST, Reason.LOOP}


@pytest.mark.django_db
def test_no_bounce_or_automatic_reply_in_the_corpus_gets_any_mail(settings):
    """Even when unknown senders are answered with a refusal, noise is never answered."""
    settings.MAIL_UNKNOWN_SENDER = "refuse"
    noise = 0
    for path in FILES:
        inbound = mail_intake(path.read_bytes(), source=Source.COMMAND)
        if inbound.reason in NOISE:
            noise += 1
            assert not OutboundMail.objects.filter(
                dedup_key__endswith=f"inbound:{inbound.message_id}"
            ).exists(), path
        else:
            assert inbound.reason in (Reason.UNKNOWN_SENDER, Reason.NO_SENDER, Reason.PARSE_ERROR)
    assert noise >= 14
    answered = set(OutboundMail.objects.values_list("recipient", flat=True))
    assert not any(address.startswith("mailer-daemon") for address in answered)
