"""The ways mail comes in: manage.py ingest_email and POST /api/v1/mail/inbound/."""

from __future__ import annotations

import io
import sys

import pytest
from django.core.management import call_command
from django.test import Client

from tests.mail.mime import raw_mail
from tickets.mail.models import InboundMessage, Source
from tickets.models import Ticket

URL = "/api/v1/mail/inbound/"
TOKEN = "s3cret-inbound-token"


# ---------------------------------------------------------------- the command


def test_ingest_email_prints_one_line_per_file(tmp_path, community, representative):
    first = tmp_path / "one.eml"
    first.write_bytes(raw_mail(sender=representative.email, message_id="<one@client.example>"))
    bounce = tmp_path / "bounce.eml"
    bounce.write_bytes(
        raw_mail(sender="MAILER-DAEMON@mx.example", message_id="<two@client.example>")
    )
    out = io.StringIO()

    call_command("ingest_email", str(first), str(bounce), str(first), stdout=out)

    ticket = Ticket.objects.get()
    assert out.getvalue().splitlines() == [
        f"{first}: ticket_opened {ticket.reference} <one@client.example>",
        f"{bounce}: refused (bounce: sent by mailer-daemon@mx.example) <two@client.example>",
        f"{first}: ticket_opened {ticket.reference} <one@client.example>",
    ]
    assert set(InboundMessage.objects.values_list("source", flat=True)) == {Source.COMMAND}


def test_ingest_email_reads_standard_input(monkeypatch, community, representative):
    raw = raw_mail(sender=representative.email, message_id="<piped@client.example>")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(raw)))
    out = io.StringIO()

    call_command("ingest_email", "-", stdout=out)

    assert out.getvalue() == (
        f"-: ticket_opened {Ticket.objects.get().reference} <piped@client.example>\n"
    )


def test_ingest_email_reports_a_missing_file_and_goes_on(tmp_path, community, representative):
    good = tmp_path / "good.eml"
    good.write_bytes(raw_mail(sender=representative.email))
    out, err = io.StringIO(), io.StringIO()

    with pytest.raises(SystemExit) as exited:
        call_command(
            "ingest_email", str(tmp_path / "missing.eml"), str(good), stdout=out, stderr=err
        )

    assert exited.value.code == 1
    assert err.getvalue().startswith(f"{tmp_path / 'missing.eml'}: cannot read:")
    assert Ticket.objects.count() == 1


# ---------------------------------------------------------------- the endpoint


def _post(body: bytes, token: str | None = TOKEN, content_type: str = "message/rfc822"):
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return Client().post(URL, data=body, content_type=content_type, headers=headers)


def test_the_endpoint_takes_a_raw_message(settings, community, representative):
    settings.MAIL_INBOUND_TOKEN = TOKEN

    response = _post(raw_mail(sender=representative.email, message_id="<web@client.example>"))

    ticket = Ticket.objects.get()
    assert response.status_code == 200
    assert response.json() == {
        "message_id": "<web@client.example>",
        "status": "ticket_opened",
        "reason": "",
        "detail": f"{ticket.reference} opened (new).",
        "ticket": ticket.reference,
    }
    assert InboundMessage.objects.get().source == Source.HTTP


@pytest.mark.parametrize("token", [None, "wrong", ""])
def test_a_bad_token_is_401_and_nothing_changes(settings, token, community, representative):
    settings.MAIL_INBOUND_TOKEN = TOKEN

    response = _post(raw_mail(sender=representative.email), token=token)

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert not InboundMessage.objects.exists()
    assert not Ticket.objects.exists()


def test_the_endpoint_is_off_without_a_token_setting(settings, community, representative):
    settings.MAIL_INBOUND_TOKEN = ""

    response = _post(raw_mail(sender=representative.email), token="")

    assert response.status_code == 404
    assert not InboundMessage.objects.exists()


@pytest.mark.parametrize("body", [b"", b"  \r\n"])
def test_an_empty_body_is_400_and_nothing_changes(settings, body, db):
    settings.MAIL_INBOUND_TOKEN = TOKEN

    response = _post(body)

    assert response.status_code == 400
    assert response.json() == {
        "code": "empty",
        "detail": "The body is empty: send the raw message as message/rfc822.",
    }
    assert not InboundMessage.objects.exists()


def test_a_message_over_the_size_limit_is_413_and_nothing_changes(
    settings, community, representative
):
    settings.MAIL_INBOUND_TOKEN = TOKEN
    settings.MAIL_INBOUND_MAX_BYTES = 4 * 1024 * 1024
    big = raw_mail(sender=representative.email, body="x" * (5 * 1024 * 1024))

    response = _post(big)

    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert not InboundMessage.objects.exists()


def test_a_message_larger_than_a_form_body_is_taken(settings, community, representative):
    settings.MAIL_INBOUND_TOKEN = TOKEN
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024

    response = _post(raw_mail(sender=representative.email, body="y" * 4096))

    assert response.status_code == 200
    assert response.json()["status"] == "ticket_opened"


def test_another_content_type_is_415(settings, db):
    settings.MAIL_INBOUND_TOKEN = TOKEN

    response = _post(b'{"a": 1}', content_type="application/json")

    assert response.status_code == 415
    assert not InboundMessage.objects.exists()


def test_only_post_is_allowed(settings, db):
    settings.MAIL_INBOUND_TOKEN = TOKEN

    assert Client().get(URL, HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 405
