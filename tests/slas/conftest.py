from datetime import datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from core import outbox
from slas.models import SLATarget
from slas.services.clocks import ticket_clocks_sync
from tests.communities.factories import CommunityFactory, MembershipFactory
from tests.core.factories import AgentFactory
from tests.slas.factories import BusinessCalendarFactory, SLAPolicyFactory

BERLIN = ZoneInfo("Europe/Berlin")


def berlin(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN)


def sync(ticket) -> int:
    """What the `slas` worker does for any event of the ticket."""
    return ticket_clocks_sync(ticket_id=ticket.pk)


def clock(ticket, metric: str) -> SLATarget:
    """The ticket's latest clock of `metric`."""
    return SLATarget.objects.filter(ticket=ticket, metric=metric).latest("created_at", "id")


@pytest.fixture
def breach_reaction(settings):
    """Breaches reach tests.slas.reactions.record (queue `paging`), whatever else reacts."""
    settings.EVENT_REACTIONS = "tests.slas.reactions.REACTIONS"
    outbox._reactions_by_event.cache_clear()
    yield
    outbox._reactions_by_event.cache_clear()


@pytest.fixture
def desk(db):
    """A Berlin community on a Mon-Fri 09:00-17:00 calendar (the default one), with a policy
    for everything (first response 4 h, next update 8 h, resolution 24 h, business time)."""
    calendar = BusinessCalendarFactory.create(name="Berlin office", is_default=True)
    community = CommunityFactory.create(time_zone="Europe/Berlin")
    policy = SLAPolicyFactory.create(name="Everything")

    d = SimpleNamespace()
    d.calendar = calendar
    d.community = community
    d.plan = community.service_plan
    d.policy = policy
    d.representative = MembershipFactory.create(community=community, role="representative").user
    d.member = MembershipFactory.create(community=community, role="member").user
    d.agent = AgentFactory.create()
    return d
