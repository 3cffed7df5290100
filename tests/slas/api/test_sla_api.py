"""GET /api/v1/tickets/{ref}/sla/ and GET /api/v1/slas/compliance/."""

import pytest
import time_machine

from tests.communities.factories import MembershipFactory, ServicePlanFactory
from tests.slas.conftest import berlin, sync
from tickets.services.conversation import message_add
from tickets.services.lifecycle import ticket_open

pytestmark = pytest.mark.django_db


def open_ticket(desk, requester=None):
    requester = requester or desk.representative
    return ticket_open(
        community=desk.community, requester=requester, subject="Hub down",
        description="503", opened_by=requester,
    )  # fmt: skip


@pytest.fixture
def ticket(desk):
    with time_machine.travel(berlin("2024-06-03 10:00"), tick=False) as clock_:
        ticket = open_ticket(desk)
        clock_.move_to(berlin("2024-06-03 11:00"))
        message_add(ticket=ticket, author=desk.agent, body="On it")
        sync(ticket)
    return ticket


def test_a_ticket_shows_its_three_clocks(api_as, desk, ticket):
    with time_machine.travel(berlin("2024-06-03 12:00"), tick=False):
        response = api_as(desk.representative).get(f"/api/v1/tickets/{ticket.reference}/sla/")

    assert response.status_code == 200
    body = response.json()
    assert body["policy"] == {"id": desk.policy.pk, "name": "Everything"}
    assert body["reason"].startswith("“Everything” is the first matching policy")
    assert body["next_update"] is None
    assert body["first_response"] == {
        "metric": "first_response", "state": "met", "policy": "Everything",
        "target_minutes": 240, "business_time": True,
        "started_at": "2024-06-03T08:00:00Z", "due_at": "2024-06-03T12:00:00Z",
        "warn_at": "2024-06-03T11:00:00Z", "paused_since": None, "paused_seconds": 0,
        "warned_at": None, "breached_at": None, "met_at": "2024-06-03T09:00:00Z",
        "cancelled_at": None, "in_time": True, "seconds_left": None, "text": "",
    }  # fmt: skip
    assert (body["resolution"]["state"], body["resolution"]["seconds_left"]) == (
        "running", 22 * 3600,
    )  # fmt: skip
    assert body["resolution"]["text"] == "22 h left (business time)"
    assert [c["metric"] for c in body["clocks"]] == ["first_response", "resolution"]
    assert "history" not in body["clocks"][0]  # members see no clock history


def test_agents_also_see_each_clocks_history(api_as, desk, ticket):
    body = api_as(desk.agent).get(f"/api/v1/tickets/{ticket.reference}/sla/").json()
    assert [e["kind"] for e in body["clocks"][0]["history"]] == ["armed", "met"]
    assert body["clocks"][0]["history"][1]["details"] == {
        "by": "public reply", "in_time": True, "used_seconds": 3600,
    }  # fmt: skip


def test_a_ticket_the_clocks_have_not_seen_has_an_empty_block(api_as, desk):
    ticket = open_ticket(desk)
    body = api_as(desk.agent).get(f"/api/v1/tickets/{ticket.reference}/sla/").json()
    assert body == {
        "policy": None, "reason": "The clocks have not seen this ticket yet.",
        "first_response": None, "next_update": None, "resolution": None, "clocks": [],
    }  # fmt: skip


@pytest.mark.parametrize("who", ["outsider", "stranger", "member"])
def test_someone_who_may_not_see_the_ticket_gets_404(api_as, desk, ticket, who, outsider, stranger):
    user = {"outsider": outsider, "stranger": stranger, "member": desk.member}[who]
    response = api_as(user).get(f"/api/v1/tickets/{ticket.reference}/sla/")
    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "not_found"


def test_anonymous_gets_401(api_as, ticket):
    assert api_as(None).get(f"/api/v1/tickets/{ticket.reference}/sla/").status_code == 401


def test_compliance_for_an_agent(api_as, desk, ticket):
    response = api_as(desk.agent).get(
        "/api/v1/slas/compliance/", {"from": "2024-06-01", "to": "2024-06-08"}
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["from"], body["to"], body["community"], body["plan"], body["severity"]) == (
        "2024-06-01T00:00:00Z", "2024-06-08T00:00:00Z", None, None, None,
    )  # fmt: skip
    assert body["metrics"][0] == {
        "metric": "first_response", "decided": 1, "met_in_time": 1, "late": 0,
        "still_running": 0, "share_met_in_time": 1.0, "median_used_seconds": 3600.0,
        "p90_used_seconds": 3600.0, "median_elapsed_seconds": 3600.0, "p90_elapsed_seconds": 3600.0,
    }  # fmt: skip
    assert [m["metric"] for m in body["metrics"]] == ["first_response", "next_update", "resolution"]


def test_members_see_their_own_communities_only(api_as, desk, ticket, outsider):
    mine = api_as(desk.member).get(
        "/api/v1/slas/compliance/", {"from": "2024-06-01", "to": "2024-06-08"}
    )
    theirs = api_as(outsider).get(
        "/api/v1/slas/compliance/", {"from": "2024-06-01", "to": "2024-06-08"}
    )
    assert mine.json()["metrics"][0]["decided"] == 1
    assert theirs.json()["metrics"][0]["decided"] == 0

    named = api_as(outsider).get(
        "/api/v1/slas/compliance/",
        {"from": "2024-06-01", "to": "2024-06-08", "community": desk.community.slug},
    )
    assert named.status_code == 404


def test_compliance_filters_by_community_plan_and_severity(api_as, desk, ticket):
    other_plan = ServicePlanFactory.create()
    query = {"from": "2024-06-01T00:00:00+02:00", "to": "2024-06-08T00:00:00Z"}
    agent = api_as(desk.agent)

    def decided(**params):
        response = agent.get("/api/v1/slas/compliance/", {**query, **params})
        assert response.status_code == 200, response.json()
        return response.json()["metrics"][0]["decided"]

    assert decided(community=desk.community.slug) == 1
    assert decided(plan=desk.plan.slug) == 1
    assert decided(plan=other_plan.slug) == 0
    assert decided(severity="medium") == 1
    assert decided(severity="critical") == 0


@pytest.mark.parametrize(
    ("params", "field", "code"),
    [
        ({"from": "yesterday"}, "from", "invalid"),
        ({"to": "2024-13-45"}, "to", "invalid"),
        ({"from": "2024-06-08", "to": "2024-06-01"}, "to", "invalid"),
        ({"severity": "urgent"}, "severity", "invalid_choice"),
        ({"plan": "no-such-plan"}, "plan", "does_not_exist"),
        ({"from": "2999-01-01"}, "from", "invalid"),
    ],
    ids=["bad from", "bad to", "to before from", "unknown severity", "unknown plan", "future from"],
)
def test_bad_compliance_queries_are_400_with_field_errors(api_as, desk, params, field, code):
    response = api_as(desk.agent).get("/api/v1/slas/compliance/", params)
    assert response.status_code == 400
    assert [(e["attr"], e["code"]) for e in response.json()["errors"]] == [(field, code)]


def test_a_member_of_several_communities_sees_them_all(api_as, desk, ticket):
    other = MembershipFactory.create(user=desk.member).community
    response = api_as(desk.member).get(
        "/api/v1/slas/compliance/",
        {"from": "2024-06-01", "to": "2024-06-08", "community": other.slug},
    )
    assert (response.status_code, response.json()["metrics"][0]["decided"]) == (200, 0)
