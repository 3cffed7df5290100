"""The loop and noise guard as a table: what makes no ticket and no answer, and why."""

from __future__ import annotations

import pytest

from tests.mail.mime import raw_mail
from tickets.mail.guard import noise_reason
from tickets.mail.models import Reason, SupportAddress
from tickets.mail.parsing import parse_mail

pytestmark = pytest.mark.django_db

DSN = (
    b"From: postmaster@mx.example\nTo: support@desk.example\nSubject: Returned\n"
    b"MIME-Version: 1.0\n"
    b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\n\n'
    b"--b\nContent-Type: text/plain\n\nDelivery failed.\n"
    b"--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example\n\n"
    b"Final-Recipient: rfc822; gone@example.org\nAction: failed\nStatus: 5.1.1\n"
    b"--b--\n"
)


@pytest.mark.parametrize(
    ("sender", "headers", "subject", "expected"),
    [
        ("ann@example.org", {}, "Printer on fire", None),
        ("ann@example.org", {"Auto-Submitted": "no"}, "Printer on fire", None),
        ("ann@example.org", {"Precedence": "first-class"}, "Printer on fire", None),
        ("MAILER-DAEMON@mx.example", {}, "Undeliverable", Reason.BOUNCE),
        ("postmaster@mx.example", {}, "Returned mail", Reason.BOUNCE),
        ("ann@example.org", {"Return-Path": "<>"}, "Printer on fire", Reason.BOUNCE),
        ("ann@example.org", {"Auto-Submitted": "auto-replied"}, "Printer", Reason.AUTO_REPLY),
        ("ann@example.org", {"Auto-Submitted": "auto-generated"}, "Printer", Reason.AUTO_REPLY),
        ("ann@example.org", {"X-Autoreply": "yes"}, "Printer", Reason.AUTO_REPLY),
        ("ann@example.org", {"X-Autorespond": "on"}, "Printer", Reason.AUTO_REPLY),
        ("ann@example.org", {"Precedence": "bulk"}, "Printer", Reason.AUTO_REPLY),
        ("ann@example.org", {"Precedence": "junk"}, "Printer", Reason.AUTO_REPLY),
        ("ann@example.org", {"Precedence": "list"}, "Printer", Reason.MAILING_LIST),
        ("ann@example.org", {}, "Out of Office: back Monday", Reason.AUTO_REPLY),
        ("ann@example.org", {}, "Automatic reply: Printer on fire", Reason.AUTO_REPLY),
        ("ann@example.org", {"List-Id": "<users.lists.example>"}, "Hi", Reason.MAILING_LIST),
        (
            "ann@example.org",
            {"List-Unsubscribe": "<mailto:u@l.example>"},
            "Hi",
            Reason.MAILING_LIST,
        ),
    ],
)
def test_the_guard_table(sender, headers, subject, expected, settings):
    settings.MAIL_REFUSE_LIST_MAIL = True
    parsed = parse_mail(raw_mail(sender=sender, subject=subject, headers=headers))

    found = noise_reason(parsed)

    assert (found[0] if found else None) == expected


def test_a_delivery_status_report_is_a_bounce():
    assert noise_reason(parse_mail(DSN)) == (
        Reason.BOUNCE,
        "multipart/report (delivery-status)",
    )


def test_list_mail_is_taken_when_the_setting_allows_it(settings):
    settings.MAIL_REFUSE_LIST_MAIL = False
    parsed = parse_mail(raw_mail(sender="ann@example.org", headers={"List-Id": "<l.example>"}))

    assert noise_reason(parsed) is None


def test_mail_from_the_desks_own_addresses_is_a_loop(settings):
    settings.DEFAULT_FROM_EMAIL = "Support Desk <support@desk.example>"
    SupportAddress.objects.create(address="acme@desk.example")

    for sender in ("Support@Desk.Example", "acme@desk.example"):
        found = noise_reason(parse_mail(raw_mail(sender=sender)))
        assert found == (Reason.LOOP, f"sent from the desk's own address {sender.lower()}")
    assert noise_reason(parse_mail(raw_mail(sender="other@desk.example"))) is None
