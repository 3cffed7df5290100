from __future__ import annotations

from typing import Any

from communities.models import Community
from core.models import User
from incidents.models import Incident
from incidents.services.lifecycle import incident_declare
from tests.communities.factories import CommunityFactory, MembershipFactory
from tests.core.factories import AgentFactory
from tickets.models import Ticket
from tickets.services.lifecycle import ticket_open


def open_ticket(community: Community | None = None, subject: str = "The hub is down") -> Ticket:
    community = community or CommunityFactory.create()
    rep = MembershipFactory.create(community=community, role="representative").user
    return ticket_open(
        community=community, requester=rep, opened_by=rep, subject=subject,
        description="Nothing loads since 10:00.",
    )  # fmt: skip


def declare(
    actor: User | None = None,
    *,
    communities: list[Community] | None = None,
    tickets: list[Ticket] | None = None,
    severity: str = "SEV2",
    **extra: Any,
) -> Incident:
    return incident_declare(
        actor=actor or AgentFactory.create(),
        title=extra.pop("title", "Hub API down"),
        severity=severity,
        communities=communities or [],
        tickets=tickets or [],
        **extra,
    )
