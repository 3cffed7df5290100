"""mail_intake: who becomes what, threading, tenancy, exactly once, quarantine and retry."""

from __future__ import annotations

import threading
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.models import Event, EventDelivery
from core.outbox import delivery_run
from tests.communities.factories import CommunityFactory, MembershipFactory
from tests.core.factories import UserFactory
from tests.mail.mime import raw_mail
from tests.tickets.factories import TicketFactory
from tickets.mail import services
from tickets.mail.models import (
    InboundMessage,
    MailThread,
    OutboundMail,
    Reason,
    Source,
    Status,
    SupportAddress,
)
from tickets.mail.services import inbound_retry, mail_intake, subject_with_reference
from tickets.models import Attachment, Channel, Message, Ticket, TicketEvent
from tickets.services.lifecycle import ticket_transition

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00"
    b"\x00\x00IEND\xaeB`\x82"
)


def ticket_of(inbound: InboundMessage) -> Ticket:
    assert inbound.ticket is not None
    return inbound.ticket


def message_of(inbound: InboundMessage) -> Message:
    assert inbound.ticket_message is not None
    return inbound.ticket_message


def _intake(raw: bytes) -> InboundMessage:
    return mail_intake(raw, source=Source.COMMAND)


def _snapshot(ticket: Ticket) -> tuple[object, ...]:
    ticket.refresh_from_db()
    return (
        ticket.status,
        ticket.updated_at,
        list(ticket.messages.values_list("pk", "body")),
        list(ticket.events.values_list("pk", flat=True)),
        list(ticket.attachments.values_list("pk", flat=True)),
        list(MailThread.objects.filter(ticket=ticket).values_list("message_id", flat=True)),
    )


# ---------------------------------------------------------------- who becomes what


def test_a_representatives_mail_opens_a_ticket_on_the_email_channel(community, representative):
    inbound = _intake(
        raw_mail(sender=f"Rep <{representative.email}>", message_id="<first@client.example>")
    )

    ticket = Ticket.objects.get()
    assert (inbound.status, inbound.reason, inbound.ticket) == (Status.TICKET_OPENED, "", ticket)
    assert (ticket.community, ticket.requester, ticket.status) == (
        community,
        representative,
        "new",
    )
    assert ticket.channel == Channel.EMAIL
    assert ticket.subject == "The hub is down"
    message = ticket.messages.get()
    assert inbound.ticket_message == message
    assert (message.channel, message.body) == (Channel.EMAIL, "Since this morning nothing syncs.")
    assert inbound.detail == f"{ticket.reference} opened (new)."
    assert list(MailThread.objects.values_list("message_id", "ticket", "direction")) == [
        ("<first@client.example>", ticket.pk, "in")
    ]
    assert inbound.from_address == representative.email
    assert inbound.recipients == ["support@desk.example"]


def test_a_members_mail_waits_for_approval_and_the_representatives_are_asked(
    community, member, representative
):
    inbound = _intake(raw_mail(sender=member.email))

    assert inbound.status == Status.TICKET_OPENED
    ticket = ticket_of(inbound)
    assert ticket.status == "awaiting_approval"
    assert Event.objects.filter(name="ticket.approval_requested").count() == 1
    delivery_run(
        delivery_id=EventDelivery.objects.get(
            handler="tickets.notifications.ask_representatives_to_approve"
        ).pk
    )
    assert list(OutboundMail.objects.values_list("kind", "recipient", "subject")) == [
        (
            "approval_requested",
            representative.email,
            f"[{ticket.reference}] Approval requested: The hub is down",
        )
    ]


def test_the_sender_is_found_whatever_the_case_and_with_a_plus_tag(community):
    person = MembershipFactory.create(
        community=community, role="representative", user=UserFactory(email="ann@example.org")
    ).user

    first = _intake(raw_mail(sender="Ann <ANN@Example.ORG>"))
    second = _intake(raw_mail(sender="ann+desk@example.org"))

    assert ticket_of(first).requester == person
    assert ticket_of(second).requester == person


def test_an_unknown_sender_is_held_and_nothing_else_is_written(db):
    inbound = _intake(raw_mail(sender="nobody@example.net"))

    assert (inbound.status, inbound.reason) == (Status.HELD, Reason.UNKNOWN_SENDER)
    assert inbound.detail == "No person has the address nobody@example.net."
    assert not Ticket.objects.exists()
    assert not MailThread.objects.exists()


def test_an_unknown_sender_is_refused_when_the_setting_says_so(db, settings):
    settings.MAIL_UNKNOWN_SENDER = "refuse"

    inbound = _intake(raw_mail(sender="nobody@example.net", message_id="<hi@example.net>"))

    assert (inbound.status, inbound.reason) == (Status.REFUSED, Reason.UNKNOWN_SENDER)
    assert inbound.detail == (
        "No person has the address nobody@example.net; a polite refusal was sent."
    )
    refusal = OutboundMail.objects.get()
    assert (refusal.kind, refusal.recipient, refusal.status, refusal.subject) == (
        "unknown_sender", "nobody@example.net", "queued", "Re: The hub is down",
    )  # fmt: skip
    assert (refusal.in_reply_to, refusal.auto_submitted) == ("<hi@example.net>", True)
    assert "could not find nobody@example.net" in refusal.text
    assert not Ticket.objects.exists()


def test_a_held_unknown_sender_gets_no_mail(db):
    _intake(raw_mail(sender="nobody@example.net"))

    assert not OutboundMail.objects.exists()


def test_someone_in_several_communities_needs_a_community_address(db):
    person = UserFactory.create()
    first, second = CommunityFactory.create_batch(2)
    for community in (first, second):
        MembershipFactory.create(user=person, community=community, role="representative")

    refused = _intake(raw_mail(sender=person.email))
    SupportAddress.objects.create(address="Second@Desk.Example", community=second)
    routed = _intake(raw_mail(sender=person.email, to="second@desk.example"))

    assert (refused.status, refused.reason) == (Status.REFUSED, Reason.AMBIGUOUS_COMMUNITY)
    assert routed.status == Status.TICKET_OPENED
    assert ticket_of(routed).community == second
    assert Ticket.objects.count() == 1


def test_the_recipient_address_decides_the_community_and_outsiders_are_refused(
    community, representative, outsider
):
    other = CommunityFactory.create()
    SupportAddress.objects.create(address="acme@desk.example", community=community)
    SupportAddress.objects.create(address="other@desk.example", community=other)

    mine = _intake(raw_mail(sender=representative.email, to="Acme <acme@desk.example>"))
    not_mine = _intake(raw_mail(sender=representative.email, to="other@desk.example"))

    assert ticket_of(mine).community == community
    assert (not_mine.status, not_mine.reason) == (Status.REFUSED, Reason.NO_COMMUNITY)
    assert Ticket.objects.count() == 1


def test_someone_in_no_community_is_refused(db, agent):
    inbound = _intake(raw_mail(sender=agent.email))

    assert (inbound.status, inbound.reason) == (Status.REFUSED, Reason.NO_COMMUNITY)
    assert not Ticket.objects.exists()


def test_html_only_mail_becomes_text(community, representative):
    inbound = _intake(
        raw_mail(
            sender=representative.email,
            html="<html><body><p>The <b>hub</b> is down.</p><ul><li>since 9:00</li></ul>"
            "<script>alert(1)</script></body></html>",
        )
    )

    body = ticket_of(inbound).description
    assert "The hub is down." in body
    assert "since 9:00" in body
    assert "<" not in body
    assert "alert" not in body


def test_a_very_long_message_is_cut_on_the_ticket_and_kept_whole(community, representative):
    body = "word " * 50_000  # 250,000 characters

    inbound = _intake(raw_mail(sender=representative.email, body=body))

    description = ticket_of(inbound).description
    assert description == body.strip()[:100_000] + (
        "\n\n[Truncated: the whole message is kept with the received mail.]"
    )
    assert len(bytes(inbound.raw)) > 250_000


# ---------------------------------------------------------------- attachments


def test_accepted_files_are_stored_and_refused_ones_dropped_with_a_note(community, representative):
    inbound = _intake(
        raw_mail(
            sender=representative.email,
            attachments=[
                ("screen.png", "image/png", PNG),
                ("setup.exe", "application/octet-stream", b"MZ\x90\x00" + b"\x00" * 64),
            ],
        )
    )

    ticket = ticket_of(inbound)
    assert list(Attachment.objects.values_list("filename", "content_type")) == [
        ("screen.png", "image/png")
    ]
    assert Attachment.objects.get().message == inbound.ticket_message
    assert ticket.description == (
        "Since this morning nothing syncs.\n\n[Attachments not accepted]\n"
        "- setup.exe: Files of type application/x-msdownload are not accepted."
    )
    # The sender is told, on the ticket's thread.
    told = OutboundMail.objects.get()
    assert (told.kind, told.recipient, told.ticket) == (
        "attachment_refused", representative.email, ticket,
    )  # fmt: skip
    assert told.subject == f"[{ticket.reference}] Attachments not accepted: The hub is down"
    assert "- setup.exe: Files of type application/x-msdownload are not accepted." in told.text
    assert told.in_reply_to == inbound.message_id


# ---------------------------------------------------------------- threading


@pytest.fixture
def opened(community, representative) -> InboundMessage:
    return _intake(raw_mail(sender=representative.email, message_id="<start@client.example>"))


def test_a_reply_joins_its_ticket_by_in_reply_to_with_the_quote_removed(opened, representative):
    reply = _intake(
        raw_mail(
            sender=representative.email,
            subject="Re: The hub is down",
            body="It works again, thanks.\n\nOn Mon, 1 Jan 2026 at 10:00, Desk wrote:\n"
            "> Since this morning nothing syncs.\n",
            message_id="<reply@client.example>",
            headers={"In-Reply-To": "<start@client.example>"},
        )
    )

    assert reply.status == Status.REPLY_ADDED
    assert reply.ticket == ticket_of(opened)
    assert message_of(reply).body == "It works again, thanks."
    assert message_of(reply).channel == Channel.EMAIL
    assert Ticket.objects.count() == 1
    assert set(MailThread.objects.values_list("message_id", flat=True)) == {
        "<start@client.example>",
        "<reply@client.example>",
    }
    # The original is kept as received.
    assert b"> Since this morning nothing syncs." in bytes(reply.raw)


def test_a_reply_joins_its_ticket_by_references_and_by_a_message_the_desk_sent(
    opened, representative
):
    MailThread.objects.create(
        message_id="<sent-by-desk@desk.example>", ticket=opened.ticket, direction="out"
    )

    reply = _intake(
        raw_mail(
            sender=representative.email,
            subject="Something else entirely",
            headers={"References": "<unknown@elsewhere> <sent-by-desk@desk.example>"},
        )
    )

    assert (reply.status, reply.ticket) == (Status.REPLY_ADDED, opened.ticket)


def test_a_reply_joins_its_ticket_by_the_reference_tag(opened, representative):
    ticket = ticket_of(opened)

    reply = _intake(
        raw_mail(sender=representative.email, subject=f"Re: [{ticket.reference}] anything")
    )

    assert (reply.status, reply.ticket) == (Status.REPLY_ADDED, ticket)


def test_the_subject_text_alone_never_threads(opened, representative):
    again = _intake(raw_mail(sender=representative.email, subject="Re: The hub is down"))

    assert again.status == Status.TICKET_OPENED
    assert again.ticket != ticket_of(opened)
    assert ticket_of(again).subject == "The hub is down"


def test_the_reference_tag_is_never_added_twice(opened):
    ticket = ticket_of(opened)
    tagged = subject_with_reference("The hub is down", ticket)

    assert tagged == f"[{ticket.reference}] The hub is down"
    assert subject_with_reference(tagged, ticket) == tagged
    assert subject_with_reference(f"Re: {tagged.lower()}", ticket) == f"Re: {tagged.lower()}"


def test_a_reply_to_a_closed_ticket_is_refused(opened, representative, agent):
    ticket = ticket_of(opened)
    for name in ("resolve", "close"):
        ticket_transition(ticket=ticket, name=name, actor=agent)
    before = _snapshot(ticket)

    reply = _intake(
        raw_mail(sender=representative.email, headers={"In-Reply-To": "<start@client.example>"})
    )

    assert (reply.status, reply.reason) == (Status.REFUSED, Reason.TICKET_CLOSED)
    assert _snapshot(ticket) == before


# ---------------------------------------------------------------- tenancy


def test_a_member_of_a_naming_bs_reference_never_touches_bs_ticket(community, representative):
    theirs = TicketFactory.create()  # another community's ticket
    MailThread.objects.create(message_id="<b@b.example>", ticket=theirs, direction="in")
    before = _snapshot(theirs)

    by_tag = _intake(
        raw_mail(sender=representative.email, subject=f"Re: [{theirs.reference}] please")
    )
    by_header = _intake(
        raw_mail(sender=representative.email, headers={"In-Reply-To": "<b@b.example>"})
    )

    for inbound in (by_tag, by_header):
        assert (inbound.status, inbound.reason) == (Status.REFUSED, Reason.NOT_ALLOWED)
        assert inbound.ticket is None
    assert _snapshot(theirs) == before
    assert Ticket.objects.count() == 1
    assert not Message.objects.exclude(ticket=theirs).exists()


def test_a_tag_naming_no_ticket_is_refused_like_one_that_is_not_yours(community, representative):
    missing = _intake(raw_mail(sender=representative.email, subject="Re: [SD-999999] hello"))

    assert (missing.status, missing.reason) == (Status.REFUSED, Reason.NOT_ALLOWED)
    assert missing.detail == (
        "The subject names a ticket that does not exist or is not the sender's."
    )


# ---------------------------------------------------------------- exactly once


def test_a_message_id_seen_before_adds_nothing(community, representative):
    raw = raw_mail(sender=representative.email, message_id="<once@client.example>")

    first = _intake(raw)
    second = mail_intake(raw, source=Source.HTTP)

    assert second.pk == first.pk
    assert InboundMessage.objects.count() == 1
    assert Ticket.objects.count() == 1
    assert TicketEvent.objects.count() == TicketEvent.objects.filter(ticket=first.ticket).count()


def test_a_message_without_message_id_gets_a_stable_one_from_its_bytes(community, representative):
    raw = raw_mail(sender=representative.email).replace(b"Message-ID:", b"X-Old-ID:")

    first = _intake(raw)
    second = _intake(raw)

    assert first.message_id.endswith("@no-message-id.invalid>")
    assert second.pk == first.pk
    assert Ticket.objects.count() == 1


# ---------------------------------------------------------------- guard and flood


def test_an_automatic_reply_makes_no_ticket_no_event_and_no_mail(
    community, representative, mailoutbox
):
    inbound = _intake(
        raw_mail(sender=representative.email, headers={"Auto-Submitted": "auto-replied"})
    )

    assert (inbound.status, inbound.reason) == (Status.REFUSED, Reason.AUTO_REPLY)
    assert not Ticket.objects.exists()
    assert not Event.objects.exists()
    assert mailoutbox == []


def test_more_mails_an_hour_than_the_limit_are_held(community, representative, settings):
    settings.MAIL_SENDER_HOURLY_LIMIT = 2

    outcomes = [_intake(raw_mail(sender=representative.email)).status for _ in range(3)]

    assert outcomes == [Status.TICKET_OPENED, Status.TICKET_OPENED, Status.HELD]
    assert InboundMessage.objects.order_by("-pk").values_list("reason", flat=True)[0] == (
        Reason.RATE_LIMITED
    )
    assert Ticket.objects.count() == 2


# ---------------------------------------------------------------- quarantine and retry


def test_a_failure_quarantines_the_message_with_its_error_and_a_retry_takes_it(
    community, representative
):
    raw = raw_mail(sender=representative.email, message_id="<hard@client.example>")
    with mock.patch(
        "tickets.mail.services.ticket_open", side_effect=RuntimeError("database went away")
    ):
        inbound = _intake(raw)

    assert (inbound.status, inbound.reason) == (Status.QUARANTINED, Reason.PARSE_ERROR)
    assert inbound.error == "RuntimeError: database went away"
    assert not Ticket.objects.exists()
    assert not MailThread.objects.exists()

    with mock.patch("tickets.mail.services.ticket_open", side_effect=RuntimeError("again")):
        failed = inbound_retry(inbound=inbound)
    assert (failed.status, failed.attempts, failed.error) == (
        Status.QUARANTINED,
        2,
        "RuntimeError: again",
    )

    done = inbound_retry(inbound=inbound)

    assert (done.status, done.reason, done.error) == (Status.TICKET_OPENED, "", "")
    assert done.ticket == Ticket.objects.get()
    assert InboundMessage.objects.count() == 1
    # Seen before: a second delivery of the same message still adds nothing.
    assert _intake(raw).pk == done.pk
    assert Ticket.objects.count() == 1


def test_a_message_the_parser_gives_up_on_is_quarantined_under_its_message_id(
    community, representative
):
    raw = raw_mail(sender=representative.email, message_id="<unreadable@client.example>")
    with mock.patch("tickets.mail.services._parse", side_effect=ValueError("no sense in it")):
        inbound = _intake(raw)
        again = _intake(raw)

    assert (inbound.status, inbound.message_id) == (
        Status.QUARANTINED,
        "<unreadable@client.example>",
    )
    assert inbound.error == "ValueError: no sense in it"
    assert again.pk == inbound.pk
    assert not Ticket.objects.exists()

    assert inbound_retry(inbound=inbound).status == Status.TICKET_OPENED


def test_an_unknown_source_is_a_programming_error(db):
    with pytest.raises(ValueError, match="Unknown mail source"):
        mail_intake(b"From: a@b.example\n\nhi", source="pigeon")


# ---------------------------------------------------------------- queries


def test_intake_of_a_new_ticket_takes_a_fixed_number_of_queries(community, representative):
    _intake(raw_mail(sender=representative.email))  # warm caches (content types and the like)

    with CaptureQueriesContext(connection) as first:
        _intake(raw_mail(sender=representative.email))
    with CaptureQueriesContext(connection) as second:
        _intake(raw_mail(sender=representative.email, body="Another one."))

    assert len(first) == len(second)
    assert len(first) == 24


def test_a_refused_bounce_takes_a_few_queries(community, representative, django_assert_num_queries):
    raw = raw_mail(sender="MAILER-DAEMON@mx.example", subject="Undeliverable")

    # seen-before lookup, savepoint, insert, release
    with django_assert_num_queries(4):
        _intake(raw)


@pytest.mark.django_db(transaction=True)
def test_two_processes_taking_the_same_message_at_once_make_one_ticket():
    community = CommunityFactory.create()
    sender = MembershipFactory.create(community=community, role="representative").user
    raw = raw_mail(sender=sender.email, message_id="<race@client.example>")
    both_checked = threading.Barrier(2, timeout=10)
    describe = services._describe

    def describe_after_both_checked(inbound, parsed):
        # Both have looked for the Message-ID and found nothing: now both go on.
        both_checked.wait()
        describe(inbound, parsed)

    results: list[InboundMessage] = []

    def take() -> None:
        try:
            results.append(_intake(raw))
        finally:
            connection.close()

    with mock.patch.object(services, "_describe", describe_after_both_checked):
        threads = [threading.Thread(target=take) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)

    assert len(results) == 2
    assert results[0].pk == results[1].pk
    assert {r.status for r in results} == {Status.TICKET_OPENED}
    assert InboundMessage.objects.count() == 1
    assert Ticket.objects.count() == 1
    assert Message.objects.count() == 1
    assert MailThread.objects.count() == 1
