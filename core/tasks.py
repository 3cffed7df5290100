"""Thin tasks: each takes ids and calls one function of core."""

from celery import shared_task
from django.db import InterfaceError, OperationalError


@shared_task(
    name="core.outbox_deliver",
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),  # the database is away for a moment
    retry_backoff=True,
    max_retries=5,
)
def outbox_deliver(
    *, delivery_ids: list[int] | None = None, delivery_id: int | None = None
) -> None:
    """The deliveries of one queue from one commit (core.outbox.enqueue). `delivery_id`:
    a message of one delivery, as sent before messages carried several."""
    from core.outbox import deliveries_run

    ids = [*(delivery_ids or ()), *([delivery_id] if delivery_id is not None else [])]
    deliveries_run(delivery_ids=ids)


@shared_task(name="core.outbox_relay")
def outbox_relay() -> None:
    from core.outbox import relay

    relay()


@shared_task(name="core.idempotency_purge")
def idempotency_purge() -> None:
    from core.idempotency import idempotency_purge as purge

    purge()
