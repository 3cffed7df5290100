"""What the portal's tests share: requests opened as the portal opens them, and a snapshot
of everything a refused request must leave alone."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.tickets.factories import MessageFactory
from tickets.models import Attachment, Message, Ticket, TicketEvent
from tickets.services.lifecycle import ticket_open

# The smallest valid PNG: 1x1 transparent pixel.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
ELF = b"\x7fELF\x02\x01\x01" + b"\0" * 100
SECRET_NOTE = "INTERNAL-ONLY: the requester's hub runs on the old cluster"


def png(name: str = "screen.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PNG, content_type="image/png")


def open_request(community, requester, subject="The hub is slow", **extra) -> Ticket:
    return ticket_open(
        community=community,
        requester=requester,
        opened_by=requester,
        subject=subject,
        description=extra.pop("description", "Since this morning, every page takes a minute."),
        **extra,
    )


def add_internal_note(ticket: Ticket, agent) -> Message:
    return MessageFactory.create(ticket=ticket, author=agent, kind="internal", body=SECRET_NOTE)


@dataclass(frozen=True)
class Snapshot:
    tickets: int
    messages: int
    attachments: int
    events: int
    statuses: tuple[tuple[int, str], ...]


def snapshot() -> Snapshot:
    return Snapshot(
        tickets=Ticket.objects.count(),
        messages=Message.objects.count(),
        attachments=Attachment.objects.count(),
        events=TicketEvent.objects.count(),
        statuses=tuple(Ticket.objects.order_by("pk").values_list("pk", "status")),
    )


@pytest.fixture
def as_user(client):
    """The test client, signed in as the given user."""

    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in
