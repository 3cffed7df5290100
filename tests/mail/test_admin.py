"""The admin: support addresses with history, inbound messages and the retry action."""

from __future__ import annotations

from unittest import mock

import pytest

from core.models import User
from tests.mail.mime import raw_mail
from tickets.mail.models import InboundMessage, Source, Status, SupportAddress
from tickets.mail.services import mail_intake
from tickets.models import Ticket


@pytest.fixture
def admin_client(client, db):
    admin = User.objects.create_superuser("root@desk.example", "pw")
    client.force_login(admin)
    return client


def test_a_support_address_is_saved_lower_case_with_history(admin_client, community):
    response = admin_client.post(
        "/admin/mail/supportaddress/add/",
        {"address": "Acme@Desk.Example", "community": community.pk, "active": "on"},
    )

    assert response.status_code == 302
    address = SupportAddress.objects.get()
    assert (address.address, address.community) == ("acme@desk.example", community)
    assert address.history.count() == 1


def test_the_same_address_in_another_case_is_refused(admin_client, community):
    SupportAddress.objects.create(address="acme@desk.example", community=community)

    response = admin_client.post(
        "/admin/mail/supportaddress/add/", {"address": "ACME@desk.example", "active": "on"}
    )

    assert response.status_code == 200
    assert SupportAddress.objects.count() == 1


def test_staff_see_quarantined_messages_and_run_them_again(admin_client, community, representative):
    with mock.patch("tickets.mail.services.ticket_open", side_effect=RuntimeError("boom")):
        inbound = mail_intake(raw_mail(sender=representative.email), source=Source.HTTP)
    assert inbound.status == Status.QUARANTINED

    listing = admin_client.get("/admin/mail/inboundmessage/?status=quarantined")
    detail = admin_client.get(f"/admin/mail/inboundmessage/{inbound.pk}/change/")
    response = admin_client.post(
        "/admin/mail/inboundmessage/",
        {"action": "retry", "_selected_action": [inbound.pk]},
    )

    assert listing.status_code == 200
    assert "The hub is down" in listing.content.decode()
    assert detail.status_code == 200
    assert "RuntimeError: boom" in detail.content.decode()
    assert response.status_code == 302
    inbound.refresh_from_db()
    assert inbound.status == Status.TICKET_OPENED
    assert inbound.ticket == Ticket.objects.get()
    assert InboundMessage.objects.count() == 1


# ---------------------------------------------------------------- outgoing mail


def test_every_mail_template_is_listed_editable_and_can_be_reset(admin_client):
    from tickets.mail.models import MailKind, MailTemplate

    listing = admin_client.get("/admin/mail/mailtemplate/")

    assert listing.status_code == 200
    assert MailTemplate.objects.count() == len(MailKind.values)
    template = MailTemplate.objects.get(kind="request_received")
    response = admin_client.post(
        f"/admin/mail/mailtemplate/{template.pk}/change/",
        {"subject": "Got it: {{ ticket.subject }}", "text": "Thanks.", "html": ""},
    )
    assert response.status_code == 302
    template.refresh_from_db()
    assert (template.subject, template.text, template.history.count()) == (
        "Got it: {{ ticket.subject }}", "Thanks.", 2,
    )  # fmt: skip

    admin_client.post(
        "/admin/mail/mailtemplate/",
        {"action": "reset_to_default", "_selected_action": [template.pk]},
    )

    template.refresh_from_db()
    assert template.subject == "We received your request: {{ ticket.subject }}"
    assert template.text.startswith("Hello {{ recipient.first_name }},")


def test_failed_mail_can_be_queued_again(admin_client):
    from tickets.mail.models import OutboundMail

    mail = OutboundMail.objects.create(
        kind="unknown_sender", dedup_key="k", recipient="a@example.org", subject="s", text="t",
        message_id="<m@desk>", status="failed", attempts=6, last_error="550",
    )  # fmt: skip

    with mock.patch("tickets.mail.outbound.enqueue_sends") as enqueue:
        response = admin_client.post(
            "/admin/mail/outboundmail/",
            {"action": "send_again", "_selected_action": [mail.pk]},
        )

    assert response.status_code == 302
    mail.refresh_from_db()
    assert (mail.status, mail.attempts) == ("queued", 0)
    assert admin_client.get(f"/admin/mail/outboundmail/{mail.pk}/change/").status_code == 200
    assert enqueue.call_count == 0  # after commit (the test's transaction never commits)
