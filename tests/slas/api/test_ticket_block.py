"""The `sla` block of every ticket in the tickets API (list and detail), added through
settings.TICKET_PAYLOAD_EXTENSIONS. Calendar and policy: tests/slas/conftest.py's `desk`."""

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from drf_spectacular.generators import SchemaGenerator

from slas.services.sweep import sla_sweep
from tests.slas.conftest import berlin, sync
from tests.slas.factories import SLAPolicyFactory
from tickets.services.conversation import message_add
from tickets.services.lifecycle import ticket_open, ticket_transition

pytestmark = pytest.mark.django_db

TICKETS = "/api/v1/tickets/"
NONE = {"first_response": None, "next_update": None, "resolution": None}


def open_ticket(desk, subject="Hub down", severity="medium"):
    return ticket_open(
        community=desk.community, requester=desk.representative, subject=subject,
        description="503", opened_by=desk.representative, severity=severity,
    )  # fmt: skip


@pytest.fixture
def tickets(desk):
    """Seen at noon on Monday 2024-06-03: a ticket opened on Friday at noon, its first
    response breached; one whose first response was met at 11:00; one whose resolution is
    paused since 11:30; a critical one on a 1-hour wall-clock first response; one the clocks
    have not seen yet."""
    SLAPolicyFactory.create(
        name="Critical", severity="critical", position=0, first_response_minutes=60,
        first_response_business=False, next_update_minutes=None, resolution_minutes=None,
    )  # fmt: skip
    with time_machine.travel(berlin("2024-05-31 12:00"), tick=False) as clock_:
        overdue = open_ticket(desk, "overdue")
        clock_.move_to(berlin("2024-06-03 10:00"))
        answered = open_ticket(desk, "answered")
        paused = open_ticket(desk, "paused")
        clock_.move_to(berlin("2024-06-03 11:00"))
        message_add(ticket=answered, author=desk.agent, body="On it")
        message_add(ticket=paused, author=desk.agent, body="Logs, please")
        clock_.move_to(berlin("2024-06-03 11:30"))
        ticket_transition(ticket=paused, name="wait_on_customer", actor=desk.agent)
        critical = open_ticket(desk, "critical", severity="critical")
        for ticket in (overdue, answered, paused, critical):
            sync(ticket)
        clock_.move_to(berlin("2024-06-03 12:00"))
        sla_sweep()
    unseen = open_ticket(desk, "unseen")
    return {
        "overdue": overdue,
        "answered": answered,
        "paused": paused,
        "critical": critical,
        "unseen": unseen,
    }


def test_a_ticket_carries_its_three_clocks(api_as, desk, tickets):
    with time_machine.travel(berlin("2024-06-03 12:00"), tick=False):
        body = api_as(desk.representative).get(f"{TICKETS}{tickets['answered'].reference}/")

    assert body.status_code == 200
    assert body.json()["sla"] == {
        "first_response": {
            "state": "met", "due_at": "2024-06-03T12:00:00Z", "business_time": True,
            "seconds_left": None,
        },
        "next_update": None,
        # 24 business hours from Monday 10:00 Berlin: Thursday 10:00; 22 left at noon.
        "resolution": {
            "state": "running", "due_at": "2024-06-06T08:00:00Z", "business_time": True,
            "seconds_left": 22 * 3600,
        },
    }  # fmt: skip


def test_the_list_carries_each_tickets_block(api_as, desk, tickets):
    with time_machine.travel(berlin("2024-06-03 12:00"), tick=False):
        results = api_as(desk.agent).get(TICKETS).json()["results"]

    blocks = {row["subject"]: row["sla"] for row in results}
    assert blocks["overdue"] == {
        # Due Friday 16:00; Friday 16:00-17:00 and Monday 09:00-12:00 are 4 business hours.
        "first_response": {
            "state": "breached", "due_at": "2024-05-31T14:00:00Z", "business_time": True,
            "seconds_left": -4 * 3600,
        },
        "next_update": None,
        # Friday 12:00-17:00 and Monday 09:00-12:00 used 8 of 24 business hours.
        "resolution": {
            "state": "running", "due_at": "2024-06-05T10:00:00Z", "business_time": True,
            "seconds_left": 16 * 3600,
        },
    }  # fmt: skip
    assert blocks["paused"] == {
        "first_response": {
            "state": "met", "due_at": "2024-06-03T12:00:00Z", "business_time": True,
            "seconds_left": None,
        },
        "next_update": None,
        # 1.5 of 24 business hours used when it paused at 11:30: still 22.5 left at noon.
        "resolution": {
            "state": "paused", "due_at": "2024-06-06T08:00:00Z", "business_time": True,
            "seconds_left": int(22.5 * 3600),
        },
    }  # fmt: skip
    assert blocks["critical"] == {
        "first_response": {
            "state": "running", "due_at": "2024-06-03T10:30:00Z", "business_time": False,
            "seconds_left": 30 * 60,
        },
        "next_update": None,
        "resolution": None,
    }  # fmt: skip
    assert blocks["unseen"] == NONE


@pytest.mark.parametrize("who", ["outsider", "stranger"])
def test_someone_who_may_not_see_the_ticket_gets_404_and_no_block(
    api_as, desk, tickets, who, outsider, stranger
):
    client = api_as({"outsider": outsider, "stranger": stranger}[who])

    detail = client.get(f"{TICKETS}{tickets['answered'].reference}/")
    listed = client.get(TICKETS)

    assert detail.status_code == 404
    assert "sla" not in detail.json()
    assert (listed.status_code, listed.json()["results"]) == (200, [])


def test_a_member_sees_the_block_of_their_own_ticket_only(api_as, desk, tickets):
    mine = ticket_open(
        community=desk.community, requester=desk.member, subject="mine", description="x",
        opened_by=desk.member,
    )  # fmt: skip

    results = api_as(desk.member).get(TICKETS).json()["results"]

    assert [(row["subject"], row["sla"]) for row in results] == [("mine", NONE)]
    assert api_as(desk.member).get(f"{TICKETS}{mine.reference}/").json()["sla"] == NONE


def _list_queries(api_as, desk, user, how_many: int) -> int:
    with time_machine.travel(berlin("2024-06-03 10:00"), tick=False):
        for i in range(how_many):
            sync(open_ticket(desk, f"Ticket {i}"))
        client = api_as(user)
        with CaptureQueriesContext(connection) as captured:
            response = client.get(TICKETS, {"page_size": 50})
    results = response.json()["results"]
    assert len(results) == how_many
    assert {row["sla"]["first_response"]["state"] for row in results} == {"running"}
    return len(captured)


@pytest.mark.parametrize("how_many", [2, 25])
def test_the_list_takes_the_same_queries_whatever_the_page_size(api_as, desk, how_many):
    # the token and its user, the page, then the `sla` block: the page's latest clocks with
    # their calendars, the calendars' hours, their holidays
    assert _list_queries(api_as, desk, desk.agent, how_many) == 5


@pytest.mark.parametrize("how_many", [2, 25])
def test_a_representatives_list_takes_one_more_for_the_memberships(api_as, desk, how_many):
    assert _list_queries(api_as, desk, desk.representative, how_many) == 6


def test_the_schema_documents_the_block_on_list_and_detail():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema["components"]["schemas"]

    for name in ("Ticket", "TicketDetail"):
        sla = components[name]["properties"]["sla"]
        assert sla["allOf"] == [{"$ref": "#/components/schemas/TicketSLABlock"}]
        assert sla["readOnly"] is True
    block = components["TicketSLABlock"]
    assert set(block["properties"]) == {"first_response", "next_update", "resolution"}
    assert block["properties"]["resolution"]["allOf"] == [
        {"$ref": "#/components/schemas/ClockSummary"}
    ]
    assert block["properties"]["resolution"]["nullable"] is True
    assert set(components["ClockSummary"]["properties"]) == {
        "state", "due_at", "business_time", "seconds_left",
    }  # fmt: skip
