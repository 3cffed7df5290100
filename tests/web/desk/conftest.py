"""What the desk's tests share: an agent signed in, tickets opened as the desk sees them, and a
snapshot of everything a refused request must leave alone."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from communities.models import TimeEntry
from tests.communities.factories import CommunityFactory, MembershipFactory
from tickets.models import Attachment, Message, Ticket, TicketEvent, TicketLink
from tickets.services.lifecycle import ticket_open
from web.models import SavedFilter

# The smallest valid PNG: 1x1 transparent pixel.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def png(name: str = "screen.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PNG, content_type="image/png")


def open_ticket(community=None, subject: str = "The hub is slow", **extra: Any) -> Ticket:
    """A ticket opened by a representative of its community, as the portal opens it."""
    community = community or CommunityFactory.create()
    requester = (
        extra.pop("requester", None)
        or MembershipFactory.create(community=community, role="representative").user
    )
    return ticket_open(
        community=community,
        requester=requester,
        opened_by=requester,
        subject=subject,
        description=extra.pop("description", "Every page takes a minute since this morning."),
        **extra,
    )


@dataclass(frozen=True)
class Snapshot:
    tickets: list[tuple[Any, ...]]
    rows: dict[str, int]


def snapshot() -> Snapshot:
    """Everything a desk request could change."""
    return Snapshot(
        tickets=list(
            Ticket.objects.order_by("pk").values_list(
                "pk", "status", "severity", "tier", "assignee", "tags", "merged_into",
                "first_responded_at", "updated_at",
            )
        ),
        rows={
            model.__name__: model.objects.count()
            for model in (Message, Attachment, TicketEvent, TicketLink, TimeEntry, SavedFilter)
        },
    )  # fmt: skip


def found(pattern: str, text: str) -> re.Match[str]:
    """The first match of `pattern` in `text`, which must be there."""
    match = re.search(pattern, text, re.S)
    assert match, f"{pattern!r} not found"
    return match


def field_errors(html: str, field_id: str) -> list[str]:
    """The errors shown beside the field whose input has id `field_id`."""
    match = re.search(rf'<label for="{field_id}"[\s\S]*?(?=<div class="field|</form>)', html)
    assert match, f"no field {field_id} on the page"
    return re.findall(
        r'<small id="[^"]+_error" class="error" role="alert">([^<]*)</small>', match.group(0)
    )


@pytest.fixture
def desk(client, agent):
    """A browser signed in as an agent."""
    client.force_login(agent)
    return client
