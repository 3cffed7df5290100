"""Two real Celery workers route 200 tickets opened through the API at once: each ticket is
routed exactly once, and no agent ends past capacity."""

import pytest
from django.db.models import Count

from core.models import EventDelivery
from routing.models import RoutingDecision, WaitingTicket
from tests.communities.factories import CommunityFactory, MembershipFactory
from tests.processes import broker_state, celery_worker, wait_until
from tests.routing.factories import AgentProfileFactory
from tickets.models import Ticket

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

TICKETS = 200
AGENTS = 5
CAPACITY = 25  # 125 places for 200 tickets: 75 must wait


def test_two_workers_route_each_ticket_once_and_never_past_capacity(api_as, monkeypatch, tmp_path):
    monkeypatch.setenv("ROUTING_MODEL_PATH", str(tmp_path / "no-model.joblib"))
    community = CommunityFactory.create()
    representative = MembershipFactory.create(community=community, role="representative").user
    agents = [
        AgentProfileFactory.create(tier_level=1, max_open_tickets=CAPACITY) for _ in range(AGENTS)
    ]
    client = api_as(representative)

    with celery_worker(), celery_worker():
        for n in range(TICKETS):
            response = client.post(
                "/api/v1/tickets/",
                {"community": community.slug, "subject": f"Request {n}",
                 "description": "Please have a look at our hub."},
                format="json",
            )  # fmt: skip
            assert response.status_code == 201

        def routed() -> int:
            return EventDelivery.objects.filter(
                handler="routing.handlers.route_ticket", state="done"
            ).count()

        wait_until(
            lambda: routed() == TICKETS,
            timeout=45,
            what=lambda: f"all tickets routed ({routed()} of {TICKETS}); {broker_state()}",
        )

    deliveries = EventDelivery.objects.filter(handler="routing.handlers.route_ticket")
    assert sorted(deliveries.values_list("state", "attempts").distinct()) == [("done", 1)]
    per_ticket = RoutingDecision.objects.values("ticket").annotate(n=Count("id"))
    assert sorted({row["n"] for row in per_ticket}) == [1]
    assert per_ticket.count() == TICKETS
    loads = dict(
        Ticket.objects.filter(assignee__isnull=False)
        .values("assignee")
        .annotate(n=Count("id"))
        .values_list("assignee", "n")
    )
    assert loads == {agent.user_id: CAPACITY for agent in agents}
    assert WaitingTicket.objects.count() == TICKETS - AGENTS * CAPACITY
    outcomes = dict(
        RoutingDecision.objects.values("outcome")
        .annotate(n=Count("id"))
        .values_list("outcome", "n")
    )
    assert outcomes == {"assigned": AGENTS * CAPACITY, "waiting": TICKETS - AGENTS * CAPACITY}
