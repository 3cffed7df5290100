"""Redis is down when a ticket arrives: the ticket is accepted, and the work runs later."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from core.models import EventDelivery
from core.tasks import outbox_relay
from supportdesk import embedded
from tests.communities.factories import CommunityFactory, MembershipFactory
from tests.processes import (
    RedisServer,
    assert_tasks_really_published,
    celery_publishing_to,
    celery_worker,
    wait_until,
)
from tickets.models import Ticket

pytestmark = [
    pytest.mark.faults,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def redis_server(settings):
    assert_tasks_really_published()
    server = RedisServer()
    server.start()
    # The same database the worker will use (see TEST_REDIS_DB in the test settings).
    broker = embedded.celery_url(embedded.redis_url_with_db(server.url, settings.TEST_REDIS_DB))
    try:
        with celery_publishing_to(broker):
            yield server
    finally:
        server.stop()


def test_a_ticket_submitted_while_redis_is_down_is_kept_and_routed_once_redis_is_back(
    api_as, redis_server
):
    community = CommunityFactory.create()
    representative = MembershipFactory.create(community=community, role="representative").user
    redis_server.stop()

    response = api_as(representative).post(
        "/api/v1/tickets/",
        {"community": community.slug, "subject": "Hub down", "description": "503 everywhere"},
        format="json",
    )

    assert response.status_code == 201
    ticket = Ticket.objects.get(pk=response.json()["id"])
    delivery = EventDelivery.objects.get(
        event__payload__ticket_id=ticket.pk, handler="routing.handlers.route_ticket"
    )
    assert (delivery.state, delivery.enqueued_at) == ("pending", None)

    redis_server.start()
    with time_machine.travel(timezone.now() + timedelta(seconds=30)):
        outbox_relay()  # what Celery beat runs every few seconds
    delivery.refresh_from_db()
    assert delivery.enqueued_at is not None

    with celery_worker(redis_url=redis_server.url):
        wait_until(
            lambda: EventDelivery.objects.filter(pk=delivery.pk, state="done").exists(),
            timeout=60,
            what="the worker to run the delivery relayed after Redis came back",
        )
    delivery.refresh_from_db()
    assert delivery.attempts == 1
