"""manage.py ingest_email FILE… (or - for standard input): mail into tickets.

A mail server can pipe each message in (`| manage.py ingest_email -`). One line per
message says what became of it. Exits 1 if a file could not be read.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from tickets.mail.models import InboundMessage, Source
from tickets.mail.services import mail_intake


def describe(inbound: InboundMessage) -> str:
    ticket = f" {inbound.ticket.reference}" if inbound.ticket else ""
    reason = f" ({inbound.reason}: {inbound.detail})" if inbound.reason else ""
    return f"{inbound.status}{ticket}{reason} {inbound.message_id}"


class Command(BaseCommand):
    help = "Take raw email messages (files, or - for standard input) into the desk."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="+", help="message files; - reads standard input")

    def handle(self, *args: Any, **options: Any) -> None:
        failed = False
        for name in options["files"]:
            try:
                raw = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
            except OSError as exc:
                self.stderr.write(f"{name}: cannot read: {exc.strerror or exc}")
                failed = True
                continue
            if not raw.strip():
                self.stderr.write(f"{name}: empty, nothing taken")
                failed = True
                continue
            inbound = mail_intake(raw, source=Source.COMMAND)
            self.stdout.write(f"{name}: {describe(inbound)}")
        if failed:
            sys.exit(1)
