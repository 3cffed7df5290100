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


def _kill_worker(name: str) -> None:
    """SIGKILL the worker called `name`: it dies mid-task, acknowledging nothing."""
    import psutil

    found = [
        p for p in psutil.process_iter(["cmdline"]) if name in " ".join(p.info["cmdline"] or [])
    ]
    assert found, f"no process for worker {name}"
    for process in found:
        process.kill()
        process.wait(timeout=10)


def test_a_delivery_whose_worker_was_killed_mid_send_is_sent_again(receiver, monkeypatch):
    """The one window in which a receiver can see a message twice: the same Idempotency-Key
    both times lets it drop the repeat."""
    monkeypatch.setenv("PAGING_DELIVERY_LEASE_SECONDS", "2")
    receiver.answer((200, "{}", 6.0), (200, '{"id": "evt_2"}'))
    with celery_worker() as name:
        with transaction.atomic():
            delivery = send_webhook(url=receiver.url, payload={"n": 1}, key="killed")
        wait_until(lambda: len(receiver.received) == 1, timeout=60, what=broker_state)
        _kill_worker(name)
    assert status_of(delivery) == "sending"

    with celery_worker():
        time.sleep(2.1)  # the dead worker's lease runs out
        result = sweep()
        assert (result.claimed, result.enqueued) == (1, 1)
        wait_until(
            lambda: status_of(delivery) == "sent",
            timeout=60,
            what=lambda: f"the delivery to be sent again ({status_of(delivery)}); {broker_state()}",
        )

    first, second = receiver.received
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"] == "killed/0"
    assert first.body == second.body
    again = Delivery.objects.get(pk=delivery.pk)
    assert (again.attempts, again.provider_id) == (2, "evt_2")
