"""Real mail servers for the tests: an SMTP server in the test process (aiosmtpd) and an
IMAP server (Debian's dovecot) with a throwaway configuration on a free port."""

from __future__ import annotations

import email
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

DOVECOT = "/usr/sbin/dovecot"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class SMTPCatcher:
    """Keeps every message it accepts; answers `refuse_next` messages with `refusal`."""

    received: list[tuple[list[str], bytes]] = field(default_factory=list)
    refuse_next: int = 0
    refusal: str = "451 4.3.0 Try again later"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.refuse_next:
            self.refuse_next -= 1
            return self.refusal
        self.received.append((list(envelope.rcpt_tos), bytes(envelope.content)))
        return "250 OK"

    def messages(self) -> list[EmailMessage]:
        parsed = []
        for _, raw in self.received:
            message = email.message_from_bytes(raw, policy=policy.default)
            assert isinstance(message, EmailMessage)
            parsed.append(message)
        return parsed

    def reset(self) -> None:
        self.received.clear()
        self.refuse_next = 0
        self.refusal = "451 4.3.0 Try again later"


class SMTPServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.catcher = SMTPCatcher()
        self.controller = Controller(self.catcher, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SMTPServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


DOVECOT_CONF = """\
base_dir = {tmp}/run
state_dir = {tmp}/state
log_path = {tmp}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{tmp}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {tmp}/passwd
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={tmp}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
"""


class IMAPServer:
    """dovecot on a free port, one user; stopped (and its directory removed) on exit."""

    user = "support@desk.example"
    password = "imap-test-password"  # noqa: S105

    def __init__(self) -> None:
        self.port = free_port()
        self.tmp = Path(tempfile.mkdtemp(prefix="supportdesk-imap-"))
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> IMAPServer:
        for name in ("run", "state", "mail", "home"):
            (self.tmp / name).mkdir()
        os.chmod(self.tmp, 0o755)  # noqa: S103 - dovecot's users must reach their dirs
        for name in ("mail", "home"):
            os.chmod(self.tmp / name, 0o777)  # noqa: S103 - the mail uid is nobody
        (self.tmp / "passwd").write_text(f"{self.user}:{{PLAIN}}{self.password}\n")
        conf = self.tmp / "dovecot.conf"
        conf.write_text(DOVECOT_CONF.format(tmp=self.tmp, port=self.port))
        self.process = subprocess.Popen(  # noqa: S603 - our own binary and config
            [DOVECOT, "-c", str(conf), "-F"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot stopped: {self.process.stderr.read()!r}")  # type: ignore[union-attr]
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("dovecot did not listen")

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def deliver(self, raw: bytes, folder: str = "INBOX") -> None:
        import imaplib

        client = imaplib.IMAP4("127.0.0.1", self.port)
        try:
            client.login(self.user, self.password)
            if folder != "INBOX":
                client.create(folder)
            client.append(folder, "", imaplib.Time2Internaldate(time.time()), raw)
        finally:
            client.logout()

    def seen(self, folder: str = "INBOX") -> list[bool]:
        """Whether each message of the folder is marked Seen, in order."""
        import imaplib

        client = imaplib.IMAP4("127.0.0.1", self.port)
        try:
            client.login(self.user, self.password)
            typ, count = client.select(folder)
            if typ != "OK" or count[0] in (b"0", None):
                return []
            typ, data = client.fetch("1:*", "(FLAGS)")
            return [b"\\Seen" in line for line in data if isinstance(line, bytes)]
        finally:
            client.logout()


def imap_purge(server: IMAPServer, folders: tuple[str, ...] = ("INBOX", "Done")) -> None:
    """Empty the folders between tests (the server lives for the module)."""
    import imaplib

    client = imaplib.IMAP4("127.0.0.1", server.port)
    try:
        client.login(server.user, server.password)
        for folder in folders:
            typ, count = client.select(folder)
            if typ != "OK" or count[0] in (b"0", None):
                continue
            client.store("1:*", "+FLAGS", "(\\Deleted)")
            client.expunge()
    finally:
        client.logout()
