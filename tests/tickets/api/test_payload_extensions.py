"""Blocks that other apps add to the ticket payload (tickets.api.extensions): one key per
extension the setting lists, prefetched once per page."""

import pytest
from rest_framework import serializers

from tests.tickets.factories import TicketFactory
from tickets.api.extensions import PayloadExtension

pytestmark = pytest.mark.django_db

TICKETS = "/api/v1/tickets/"
PATH = "tests.tickets.api.test_payload_extensions.subject_length"

prefetched: list[list[int]] = []


class SubjectLengthSerializer(serializers.Serializer[dict[str, int]]):
    characters = serializers.IntegerField()


def _prefetch(tickets):
    prefetched.append([ticket.pk for ticket in tickets])
    return {ticket.pk: {"characters": len(ticket.subject)} for ticket in tickets}


subject_length = PayloadExtension(
    name="subject_length", shape=SubjectLengthSerializer, prefetch=_prefetch
)


@pytest.fixture
def extended(settings):
    settings.TICKET_PAYLOAD_EXTENSIONS = [PATH]
    prefetched.clear()
    yield
    prefetched.clear()


def test_a_list_prefetches_once_for_the_whole_page(api_as, agent, extended):
    tickets = [TicketFactory.create(subject="x" * n) for n in (3, 5, 8)]

    results = api_as(agent).get(TICKETS).json()["results"]

    assert [(row["reference"], row["subject_length"]) for row in results] == [
        (t.reference, {"characters": len(t.subject)}) for t in reversed(tickets)
    ]
    assert prefetched == [[t.pk for t in reversed(tickets)]]


def test_a_detail_prefetches_its_one_ticket(api_as, agent, extended):
    ticket = TicketFactory.create(subject="Quota")

    body = api_as(agent).get(f"{TICKETS}{ticket.reference}/").json()

    assert body["subject_length"] == {"characters": 5}
    assert prefetched == [[ticket.pk]]


def test_without_extensions_the_payload_is_the_tickets_own(api_as, agent, settings):
    settings.TICKET_PAYLOAD_EXTENSIONS = []
    ticket = TicketFactory.create()

    body = api_as(agent).get(f"{TICKETS}{ticket.reference}/").json()

    assert "sla" not in body
    assert "subject_length" not in body
    assert body["reference"] == ticket.reference


OPENED_PATH = "tests.tickets.api.test_payload_extensions.subject_length_or_opened"
subject_length_or_opened = PayloadExtension(
    name="subject_length",
    shape=SubjectLengthSerializer,
    prefetch=_prefetch,
    opened=lambda: {"characters": 0},
)


@pytest.mark.parametrize(("path", "value", "fetches"), [(PATH, 3, 1), (OPENED_PATH, 0, 0)])
def test_a_ticket_just_opened_takes_the_extensions_opened_value_without_a_fetch(
    api_as, community, representative, settings, path, value, fetches
):
    settings.TICKET_PAYLOAD_EXTENSIONS = [path]
    prefetched.clear()
    body = {"community": community.slug, "subject": "GPU", "description": "Pods pending"}

    response = api_as(representative).post(TICKETS, body, format="json")

    assert response.status_code == 201
    assert response.json()["subject_length"] == {"characters": value}
    assert len(prefetched) == fetches
    prefetched.clear()


def test_opening_a_ticket_reads_nothing_back_after_the_commit(
    api_as, community, representative, django_assert_num_queries
):
    body = {"community": community.slug, "subject": "GPU", "description": "Pods pending"}
    client = api_as(representative)

    # Token, community, membership; the ticket, its history, message (and its history),
    # audit entry, event and deliveries in one transaction (a savepoint here).
    with django_assert_num_queries(12):
        response = client.post(TICKETS, body, format="json")

    assert response.status_code == 201
    assert response.json()["sla"] == {
        "first_response": None,
        "next_update": None,
        "resolution": None,
    }
    assert response.json()["satisfaction"] is None
