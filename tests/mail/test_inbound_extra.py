"""Inbound mail beyond intake itself: bounces of the desk's own mail, DMARC, the held-mail
desk page, and the profile's mail preferences."""

from __future__ import annotations

import pytest

from core.models import User
from tests.communities.factories import CommunityFactory, MembershipFactory
from tests.mail.conftest import run_reactions
from tests.mail.mime import raw_mail
from tickets.mail.models import InboundMessage, MailPreference, OutboundMail, Reason, Source, Status
from tickets.mail.services import mail_intake
from tickets.models import Ticket

pytestmark = pytest.mark.django_db


def _intake(raw: bytes) -> InboundMessage:
    return mail_intake(raw, source=Source.COMMAND)


def dsn(original_message_id: str, *, in_reply_to: str | None = None) -> bytes:
    """A delivery status notification returning only the original's headers."""
    reply = f"In-Reply-To: {in_reply_to}\r\n" if in_reply_to else ""
    return (
        "From: MAILER-DAEMON@mx.example.org\r\n"
        "To: support@localhost\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <dsn-1@mx.example.org>\r\n"
        f"{reply}"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.org\r\n\r\n"
        "Final-Recipient: rfc822; gone@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "--b\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        "From: Support Desk <support@localhost>\r\nTo: gone@example.org\r\n"
        f"Message-ID: {original_message_id}\r\nSubject: [SD-1] We received your request\r\n"
        "--b--\r\n"
    ).encode()


@pytest.fixture
def sent_mail(community, representative) -> OutboundMail:
    _intake(raw_mail(sender=representative.email))
    run_reactions()
    mail = OutboundMail.objects.get()
    OutboundMail.objects.filter(pk=mail.pk).update(status="sent")
    return mail


def test_a_bounce_of_the_desks_own_mail_marks_that_delivery_failed(sent_mail):
    inbound = _intake(dsn(sent_mail.message_id))

    assert (inbound.status, inbound.reason) == (Status.REFUSED, Reason.BOUNCE)
    sent_mail.refresh_from_db()
    assert sent_mail.status == "failed"
    assert sent_mail.last_error == (
        "Bounced: multipart/report (delivery-status) (<dsn-1@mx.example.org>)"
    )
    assert OutboundMail.objects.count() == 1  # and nothing answers the bounce


def test_a_bounce_found_by_its_in_reply_to_alone_counts_too(sent_mail):
    _intake(dsn("<unrelated@elsewhere.example>", in_reply_to=sent_mail.message_id))

    sent_mail.refresh_from_db()
    assert sent_mail.status == "failed"


def test_a_bounce_of_someone_elses_mail_changes_nothing(sent_mail):
    _intake(dsn("<not-ours@elsewhere.example>"))

    sent_mail.refresh_from_db()
    assert sent_mail.status == "sent"


@pytest.mark.parametrize(
    ("results", "refused"),
    [
        (["mx.desk.example; dmarc=fail (p=reject) header.from=example.org"], True),
        (["mx.desk.example; dmarc=pass header.from=example.org"], False),
        # Only the topmost header is the receiving server's; lower ones may be forged.
        (["mx.desk.example; dmarc=pass", "evil.example; dmarc=fail"], False),
        ([], False),
    ],
)
def test_dmarc_failures_are_refused_when_the_setting_says_so(
    community, representative, settings, results, refused
):
    settings.MAIL_REFUSE_DMARC_FAIL = True
    raw = raw_mail(sender=representative.email)
    head = "".join(f"Authentication-Results: {value}\r\n" for value in results).encode()

    inbound = _intake(head + raw)

    if refused:
        assert (inbound.status, inbound.reason) == (Status.REFUSED, Reason.DMARC_FAIL)
        assert not Ticket.objects.exists()
    else:
        assert inbound.status == Status.TICKET_OPENED


def test_dmarc_is_not_looked_at_by_default(community, representative):
    raw = b"Authentication-Results: mx; dmarc=fail\r\n" + raw_mail(sender=representative.email)

    assert _intake(raw).status == Status.TICKET_OPENED


# ---------------------------------------------------------------- held mail on the desk


@pytest.fixture
def held() -> InboundMessage:
    inbound = _intake(
        raw_mail(sender="Nina New <nina@newcomer.example>", subject="Re: Access to the hub")
    )
    assert inbound.status == Status.HELD
    return inbound


def test_agents_see_the_held_mail(client, agent, held, django_assert_num_queries):
    client.force_login(agent)
    _intake(raw_mail(sender="other@newcomer.example"))

    with django_assert_num_queries(4):  # session, user, rows, count
        response = client.get("/desk/mail/held/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "nina@newcomer.example" in html
    assert "other@newcomer.example" in html
    assert f'href="/desk/mail/held/{held.pk}/"' in html

    detail = client.get(f"/desk/mail/held/{held.pk}/")
    assert detail.status_code == 200
    assert "Since this morning nothing syncs." in detail.content.decode()


def test_attaching_a_held_message_opens_its_ticket_in_the_community(client, agent, held):
    community = CommunityFactory.create()
    client.force_login(agent)

    response = client.post(f"/desk/mail/held/{held.pk}/attach/", {"community": community.pk})

    ticket = Ticket.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/desk/tickets/{ticket.reference}/"
    person = User.objects.get(email="nina@newcomer.example")
    assert (ticket.community, ticket.requester, ticket.channel) == (community, person, "email")
    assert ticket.subject == "Access to the hub"
    assert ticket.status == "awaiting_approval"  # a member's request, as seed 004 says
    assert not person.has_usable_password()
    held.refresh_from_db()
    assert (held.status, held.ticket) == (Status.TICKET_OPENED, ticket)
    # Attached once: it is no longer held.
    again = client.post(f"/desk/mail/held/{held.pk}/attach/", {"community": community.pk})
    assert again.status_code == 404
    assert Ticket.objects.count() == 1


def test_discarding_a_held_message_keeps_it_refused(client, agent, held):
    client.force_login(agent)

    response = client.post(f"/desk/mail/held/{held.pk}/discard/")

    assert response.status_code == 302
    held.refresh_from_db()
    assert (held.status, held.reason) == (Status.REFUSED, Reason.DISCARDED)
    assert held.detail == f"Discarded by {agent.email}."
    assert client.get(f"/desk/mail/held/{held.pk}/").status_code == 404


def test_a_message_that_is_not_held_is_not_on_the_page(client, agent, community, representative):
    opened = _intake(raw_mail(sender=representative.email))
    client.force_login(agent)

    assert client.get(f"/desk/mail/held/{opened.pk}/").status_code == 404
    assert client.post(f"/desk/mail/held/{opened.pk}/discard/").status_code == 404
    opened.refresh_from_db()
    assert opened.status == Status.TICKET_OPENED


@pytest.mark.parametrize("role", ["member", "representative"])
def test_people_who_are_not_agents_get_404_and_change_nothing(client, held, community, role):
    person = MembershipFactory.create(community=community, role=role).user
    client.force_login(person)

    for response in (
        client.get("/desk/mail/held/"),
        client.get(f"/desk/mail/held/{held.pk}/"),
        client.post(f"/desk/mail/held/{held.pk}/attach/", {"community": community.pk}),
        client.post(f"/desk/mail/held/{held.pk}/discard/"),
    ):
        assert response.status_code == 404
    held.refresh_from_db()
    assert held.status == Status.HELD
    assert not Ticket.objects.exists()


# ---------------------------------------------------------------- preferences on the profile


def test_the_profile_saves_which_notification_mails_a_person_wants(client, member):
    client.force_login(member)
    page = client.get("/accounts/profile/")
    assert 'name="mail-wanted" value="staff_reply"' in page.content.decode()

    response = client.post(
        "/accounts/profile/",
        {
            "first_name": "Mia", "last_name": "Member", "time_zone": "Europe/Berlin",
            "mail-wanted": ["staff_reply", "resolved"],
        },
    )  # fmt: skip

    assert response.status_code == 302
    assert MailPreference.objects.get(user=member).muted == [
        "approval_requested", "approved", "declined", "merged", "request_received",
    ]  # fmt: skip
    page = client.get("/accounts/profile/").content.decode()
    assert 'value="staff_reply" id="id_mail-wanted_4" checked' in page
    assert 'value="request_received" id="id_mail-wanted_0" checked' not in page
