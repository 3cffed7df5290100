"""A real Celery worker on the real Redis sends a webhook: after commit, signed, once; and a
retry handed over by the sweeper."""

import hashlib
import hmac
import time

import pytest
from django.db import transaction

from incidents.notify.models import Delivery
from incidents.notify.sending import sweep
from incidents.notify.services import send_webhook
from tests.processes import broker_state, celery_worker, wait_until

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def status_of(delivery) -> str:
    return Delivery.objects.get(pk=delivery.pk).status


def test_a_worker_delivers_a_signed_webhook_once(receiver):
    receiver.answer((200, '{"id": "evt_1"}'))
    with celery_worker():
        with transaction.atomic():
            delivery = send_webhook(
                url=receiver.url, payload={"summary": "Hub down"}, key="page/1/webhook",
                secret="s3cret", source="page", source_id=1,
            )  # fmt: skip
        wait_until(
            lambda: status_of(delivery) == "sent",
            timeout=60,
            what=lambda: f"the webhook to be sent ({status_of(delivery)}); {broker_state()}",
        )
        time.sleep(1)  # anything more would arrive now

    [request] = receiver.received
    expected = hmac.new(b"s3cret", request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Supportdesk-Signature"] == f"sha256={expected}"
    assert request.json() == {"summary": "Hub down"}
    sent = Delivery.objects.get(pk=delivery.pk)
    assert (sent.attempts, sent.provider_id) == (1, "evt_1")


def test_a_retry_the_sweeper_hands_over_is_sent_by_the_worker(receiver, monkeypatch):
    monkeypatch.setenv("PAGING_DELIVERY_BACKOFF_SECONDS", "0.2")
    receiver.answer((503, "busy"), (200, "{}"))
    with celery_worker():
        with transaction.atomic():
            delivery = send_webhook(url=receiver.url, payload={"n": 1}, key="retry")
        wait_until(
            lambda: Delivery.objects.filter(pk=delivery.pk, status="pending", attempts=1).exists(),
            timeout=60,
            what=lambda: f"the first attempt to fail; {broker_state()}",
        )
        time.sleep(0.3)
        result = sweep()  # what beat runs every few seconds
        assert (result.claimed, result.enqueued) == (1, 1)
        wait_until(
            lambda: status_of(delivery) == "sent",
            timeout=60,
            what=lambda: f"the retry to be sent ({status_of(delivery)}); {broker_state()}",
        )

    assert len(receiver.received) == 2
    assert Delivery.objects.get(pk=delivery.pk).attempts == 2
