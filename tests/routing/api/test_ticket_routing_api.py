"""A ticket's routing over the API: why it went where (GET routing/), escalate/, reroute/.
Agents only: anyone else, even someone who sees the ticket, gets 404."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.models import Event
from routing.models import RoutingDecision, TierEscalation
from routing.services.routing import ticket_route
from tests.routing.factories import AgentProfileFactory
from tickets.models import Ticket, TicketEvent
from tickets.services.lifecycle import ticket_open

pytestmark = pytest.mark.django_db


@pytest.fixture
def ticket(community, representative):
    return ticket_open(
        community=community, requester=representative, subject="Helm question",
        description="How do I template a values file?", opened_by=representative,
    )  # fmt: skip


def _snapshot(ticket):
    return (
        Ticket.objects.filter(pk=ticket.pk).values_list("tier", "assignee", "severity").get(),
        RoutingDecision.objects.count(),
        TierEscalation.objects.count(),
        TicketEvent.objects.count(),
        Event.objects.count(),
    )


def test_the_routing_of_a_ticket_explains_itself(api_as, agent, ticket):
    tier1 = AgentProfileFactory.create(tier_level=1)
    ticket_route(ticket=ticket, trigger="opened")
    decision = RoutingDecision.objects.get()

    body = api_as(agent).get(f"/api/v1/tickets/{ticket.reference}/routing/").json()

    assert body["ticket"] == ticket.reference
    assert (body["tier"], body["assignee"], body["waiting"]) == (
        "self_service", {"id": tier1.user_id, "name": tier1.user.display_name}, None,
    )  # fmt: skip
    latest = body["decision"]
    assert {k: latest[k] for k in ("id", "trigger", "outcome", "severity", "tier", "rules_ran")} == {
        "id": decision.pk, "trigger": "opened", "outcome": "assigned", "severity": "medium",
        "tier": "self_service", "rules_ran": True,
    }  # fmt: skip
    assert latest["severity_why"] == "as requested"
    assert latest["severity_assessment"] == {"severity": "low", "phrases": ["question", "how do i"]}
    assert latest["tier_why"] == "no category: self service first"
    assert latest["explanation"] == f"{tier1.user.display_name} is the only agent who fits."
    assert latest["candidates"] == [
        {"agent_id": tier1.user_id, "name": tier1.user.display_name, "tier_level": 1,
         "status": "available", "eligible": True, "reason": "", "load": 0, "capacity": 10,
         "community_worked_at": None, "affinity_via": "", "last_assigned_at": None, "rank": 1},
    ]  # fmt: skip
    assert [h["id"] for h in body["history"]] == [decision.pk]
    assert body["escalations"] == []


def test_before_routing_there_is_no_decision_yet(api_as, agent, ticket):
    body = api_as(agent).get(f"/api/v1/tickets/{ticket.reference}/routing/").json()
    assert (body["decision"], body["history"], body["waiting"]) == (None, [], None)


def test_a_waiting_ticket_says_so(api_as, agent, ticket):
    ticket_route(ticket=ticket, trigger="opened")

    body = api_as(agent).get(f"/api/v1/tickets/{ticket.reference}/routing/").json()

    assert body["waiting"]["tier"] == "self_service"
    assert body["waiting"]["reason"] == "Nobody serves tier self service."
    waiting = api_as(agent).get("/api/v1/routing/waiting/", {"tier": "self_service"}).json()
    assert [(w["ticket"], w["reason"]) for w in waiting] == [
        (ticket.reference, "Nobody serves tier self service.")
    ]


def test_the_routing_page_reads_in_constant_queries(api_as, agent, ticket):
    AgentProfileFactory.create(tier_level=1)
    AgentProfileFactory.create(tier_level=2)
    ticket_route(ticket=ticket, trigger="opened")
    client = api_as(agent)
    url = f"/api/v1/tickets/{ticket.reference}/routing/"
    client.get(url)
    with CaptureQueriesContext(connection) as one:
        client.get(url)
    for _ in range(3):
        client.post(f"/api/v1/tickets/{ticket.reference}/reroute/")
    client.post(f"/api/v1/tickets/{ticket.reference}/escalate/", {"direction": "up", "reason": "r"},
                format="json")  # fmt: skip
    with CaptureQueriesContext(connection) as many:
        body = client.get(url).json()

    assert len(body["history"]) == 5
    assert (
        len(one) == len(many) == 5
    )  # token, ticket in scope, ticket + wait, decisions, escalations


def test_an_agent_escalates_a_ticket_one_tier(api_as, agent, ticket):
    AgentProfileFactory.create(tier_level=2)

    response = api_as(agent).post(
        f"/api/v1/tickets/{ticket.reference}/escalate/",
        {"direction": "up", "reason": "Needs the community tier"},
        format="json",
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["tier"] == "community"
    assert [
        (e["from_tier"], e["to_tier"], e["reason"], e["actor"]["id"]) for e in body["escalations"]
    ] == [("self_service", "community", "Needs the community tier", agent.pk)]
    assert body["decision"]["trigger"] == "escalation"


def test_escalating_past_emergency_is_a_409_and_changes_nothing(api_as, agent, ticket):
    Ticket.objects.filter(pk=ticket.pk).update(tier="emergency")
    before = _snapshot(ticket)

    response = api_as(agent).post(
        f"/api/v1/tickets/{ticket.reference}/escalate/", {"direction": "up", "reason": "more"},
        format="json",
    )  # fmt: skip

    assert response.status_code == 409
    assert response.json()["errors"] == [
        {"code": "escalation_refused", "attr": None,
         "detail": f"{ticket.reference} is at the emergency tier: there is no tier above emergency."}
    ]  # fmt: skip
    assert _snapshot(ticket) == before


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"direction": "up"}, [("reason", "required")]),
        ({"direction": "sideways", "reason": "x"}, [("direction", "invalid_choice")]),
        ({"direction": "up", "reason": "   "}, [("reason", "blank")]),
        ({"direction": "up", "reason": "x", "tier": "expert"}, [("tier", "unknown_field")]),
    ],
)
def test_a_bad_escalation_is_a_400_and_changes_nothing(api_as, agent, ticket, body, errors):
    before = _snapshot(ticket)

    response = api_as(agent).post(
        f"/api/v1/tickets/{ticket.reference}/escalate/", body, format="json"
    )

    assert response.status_code == 400
    assert [(e["attr"], e["code"]) for e in response.json()["errors"]] == errors
    assert _snapshot(ticket) == before


def test_an_escalation_repeated_with_its_idempotency_key_happens_once(api_as, agent, ticket):
    client = api_as(agent)
    url = f"/api/v1/tickets/{ticket.reference}/escalate/"
    body = {"direction": "up", "reason": "once"}

    first = client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="esc-1")
    again = client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="esc-1")

    assert (first.status_code, again.status_code, again["Idempotent-Replayed"]) == (
        200,
        200,
        "true",
    )
    assert TierEscalation.objects.count() == 1


def test_an_agent_reroutes_a_ticket(api_as, agent, ticket):
    ticket_route(ticket=ticket, trigger="opened")
    AgentProfileFactory.create(tier_level=1)

    response = api_as(agent).post(f"/api/v1/tickets/{ticket.reference}/reroute/")

    assert response.status_code == 200
    body = response.json()
    assert (body["trigger"], body["actor"]["id"], body["outcome"]) == (
        "reroute",
        agent.pk,
        "assigned",
    )
    assert RoutingDecision.objects.filter(ticket=ticket).count() == 2


def test_rerouting_a_closed_ticket_is_a_409(api_as, agent, ticket):
    Ticket.objects.filter(pk=ticket.pk).update(status="closed")
    response = api_as(agent).post(f"/api/v1/tickets/{ticket.reference}/reroute/")
    assert (response.status_code, response.json()["errors"][0]["code"]) == (409, "not_routable")


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("get", "routing/", None),
        ("post", "escalate/", {"direction": "up", "reason": "please"}),
        ("post", "reroute/", None),
    ],
)
@pytest.mark.parametrize("who", ["representative", "requester_member", "outsider", "stranger"])
def test_routing_endpoints_are_a_404_to_anyone_but_agents_even_if_they_see_the_ticket(
    api_as, request, community, ticket, method, suffix, body, who
):
    ticket_route(ticket=ticket, trigger="opened")
    user = ticket.requester if who == "requester_member" else request.getfixturevalue(who)
    before = _snapshot(ticket)

    response = getattr(api_as(user), method)(
        f"/api/v1/tickets/{ticket.reference}/{suffix}", body, format="json"
    )

    assert response.status_code == 404
    assert response.json()["errors"] == [
        {"code": "not_found", "detail": "Not found.", "attr": None}
    ]
    assert _snapshot(ticket) == before


def test_an_unknown_ticket_is_a_404_for_agents_too(api_as, agent):
    assert api_as(agent).get("/api/v1/tickets/SD-999999/routing/").status_code == 404
