"""Two requests with one Idempotency-Key at the same moment: one ticket, one answer."""

import threading

import pytest
from django.db import connection

from tests.communities.factories import MembershipFactory
from tickets.models import Ticket

pytestmark = pytest.mark.django_db(transaction=True)


def test_concurrent_repeats_create_once_and_answer_alike(api_as):
    representative = MembershipFactory.create(role="representative")
    body = {"community": representative.community.slug, "subject": "Hub down", "description": "503"}
    start = threading.Barrier(2)
    responses = []

    def post(client):
        start.wait()
        responses.append(
            client.post("/api/v1/tickets/", body, format="json", HTTP_IDEMPOTENCY_KEY="same-key")
        )
        connection.close()

    clients = [api_as(representative.user) for _ in range(2)]
    threads = [threading.Thread(target=post, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [r.status_code for r in responses] == [201, 201]
    assert responses[0].json() == responses[1].json()
    assert sorted(r.get("Idempotent-Replayed", "") for r in responses) == ["", "true"]
    assert Ticket.objects.count() == 1
