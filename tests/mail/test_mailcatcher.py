"""The demo's mail catcher: what reaches its SMTP port is listed on its page."""

from __future__ import annotations

import smtplib
import urllib.request
from email.message import EmailMessage

from supportdesk.mailcatcher import MailCatcher
from tests.mail.servers import free_port


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - localhost
        return response.status, response.read().decode()


def test_caught_mail_is_listed_and_shown_with_its_headers(tmp_path):
    catcher = MailCatcher(tmp_path, "127.0.0.1", free_port(), free_port())
    catcher.start()
    try:
        message = EmailMessage()
        message["From"] = "support@localhost"
        message["To"] = "rep@aurora.example"
        message["Subject"] = "[SD-1001] We received your request: <Hub> down"
        message["Auto-Submitted"] = "auto-generated"
        message.set_content("We gave it the reference SD-1001.")
        with smtplib.SMTP("127.0.0.1", catcher.smtp_port) as client:
            client.send_message(message)

        [name] = catcher.store.names()
        status, listing = _get(catcher.url)
        assert status == 200
        assert "[SD-1001] We received your request: &lt;Hub&gt; down" in listing
        assert f"href='/m/{name}'" in listing
        status, page = _get(f"{catcher.url}m/{name}")
        assert "<dt>Auto-Submitted</dt><dd>auto-generated</dd>" in page
        assert "We gave it the reference SD-1001." in page
        assert _get(f"{catcher.url}raw/{name}")[1].startswith("From: support@localhost")
    finally:
        catcher.stop()
    assert (tmp_path / name).read_bytes().startswith(b"From: support@localhost")
