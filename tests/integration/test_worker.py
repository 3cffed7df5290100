"""A real Celery worker, on the real Redis, handles what a new ticket asks for."""

import pytest
import redis
from django.conf import settings

from core.models import EventDelivery
from supportdesk.celery import HEARTBEAT_PREFIX
from tests.communities.factories import CommunityFactory, MembershipFactory
from tests.processes import broker_state, celery_worker, wait_until

pytestmark = [
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
]


def test_a_worker_handles_the_routing_due_for_a_new_ticket(api_as):
    community = CommunityFactory.create()
    representative = MembershipFactory.create(community=community, role="representative").user

    with celery_worker():
        response = api_as(representative).post(
            "/api/v1/tickets/",
            {"community": community.slug, "subject": "Hub down", "description": "503"},
            format="json",
        )
        assert response.status_code == 201
        delivery = EventDelivery.objects.get(
            event__payload__ticket_id=response.json()["id"],
            handler="routing.handlers.route_ticket",
        )
        assert delivery.enqueued_at is not None  # handed to Redis after commit

        wait_until(
            lambda: EventDelivery.objects.filter(pk=delivery.pk, state="done").exists(),
            timeout=60,
            what=lambda: (
                f"the worker to run {EventDelivery.objects.filter(pk=delivery.pk).values()}; "
                f"{broker_state()}"
            ),
        )

    delivery.refresh_from_db()
    assert (delivery.handler, delivery.queue, delivery.attempts) == (
        "routing.handlers.route_ticket", "routing", 1,
    )  # fmt: skip


def test_readyz_wants_a_worker(client):
    # A worker stopped by an earlier test in this process may have left its heartbeat.
    heartbeats = redis.Redis.from_url(settings.WORKER_HEARTBEAT_REDIS_URL)
    for key in heartbeats.scan_iter(match=f"{HEARTBEAT_PREFIX}*"):
        heartbeats.delete(key)

    without = client.get("/readyz")
    assert without.status_code == 503
    assert without.json()["checks"]["worker"] == {
        "ok": False, "ms": without.json()["checks"]["worker"]["ms"],
        "error": "no Celery worker has sent a heartbeat in the last 30 s",
    }  # fmt: skip
    assert without.json()["checks"]["database"]["ok"] is True
    assert without.json()["checks"]["redis"]["ok"] is True

    with celery_worker():
        wait_until(lambda: client.get("/readyz").status_code == 200, timeout=60, what="/readyz")
        body = client.get("/readyz").json()
        assert body["status"] == "ok", body
    assert {name: check["ok"] for name, check in body["checks"].items()} == {
        "database": True, "redis": True, "worker": True,
    }  # fmt: skip
