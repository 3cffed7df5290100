import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.tickets.factories import MessageFactory, TicketFactory
from tickets.models import Message

pytestmark = pytest.mark.django_db


def _url(ticket):
    return f"/api/v1/tickets/{ticket.reference}/messages/"


def test_members_see_the_conversation_without_internal_notes(api_as, community, member, agent):
    ticket = TicketFactory.create(community=community, requester=member)
    MessageFactory.create(ticket=ticket, author=member, body="It broke")
    MessageFactory.create(ticket=ticket, author=agent, body="Checking the logs", kind="internal")
    MessageFactory.create(ticket=ticket, author=agent, body="Fixed")

    as_member = api_as(member).get(_url(ticket)).json()["results"]
    as_agent = api_as(agent).get(_url(ticket)).json()["results"]

    assert [(m["body"], m["author"]["is_agent"]) for m in as_member] == [
        ("It broke", False),
        ("Fixed", True),
    ]
    assert [m["body"] for m in as_agent] == ["It broke", "Checking the logs", "Fixed"]


def test_a_member_replies(api_as, community, member):
    ticket = TicketFactory.create(
        community=community, requester=member, status="waiting_on_customer"
    )

    response = api_as(member).post(_url(ticket), {"body": "Logs attached"}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert (body["kind"], body["body"], body["channel"], body["author"]["id"]) == (
        "public", "Logs attached", "api", member.pk,
    )  # fmt: skip
    ticket.refresh_from_db()
    assert ticket.status == "in_progress"


def test_an_agent_writes_an_internal_note(api_as, agent):
    ticket = TicketFactory.create()

    response = api_as(agent).post(
        _url(ticket), {"body": "Known bug", "kind": "internal"}, format="json"
    )

    assert response.status_code == 201
    assert Message.objects.get().kind == "internal"


def test_a_member_cannot_write_an_internal_note(api_as, community, member):
    ticket = TicketFactory.create(community=community, requester=member)

    response = api_as(member).post(
        _url(ticket), {"body": "psst", "kind": "internal"}, format="json"
    )

    assert response.status_code == 403
    assert response.json()["errors"][0]["code"] == "internal_note_not_allowed"
    assert not Message.objects.exists()


def test_an_empty_reply_is_refused(api_as, agent):
    ticket = TicketFactory.create()

    response = api_as(agent).post(_url(ticket), {"body": "  "}, format="json")

    assert response.status_code == 400
    assert [(e["attr"], e["code"]) for e in response.json()["errors"]] == [("body", "blank")]


def test_replying_to_a_closed_ticket_is_a_conflict(api_as, community, member):
    ticket = TicketFactory.create(community=community, requester=member, status="closed")

    response = api_as(member).post(_url(ticket), {"body": "hello?"}, format="json")

    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == "ticket_closed"


def test_the_conversation_takes_the_same_queries_however_long(api_as, agent):
    ticket = TicketFactory.create()
    client = api_as(agent)

    def queries_for(count):
        Message.objects.all().delete()
        MessageFactory.create_batch(count, ticket=ticket)
        with CaptureQueriesContext(connection) as captured:
            response = client.get(_url(ticket))
        assert len(response.json()["results"]) == count
        return len(captured)

    # token, ticket, messages with authors, their attachments
    assert queries_for(1) == queries_for(30) == 4
