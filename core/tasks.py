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
def outbox_deliver(*, delivery_id: int) -> None:
    from core.outbox import delivery_run

    delivery_run(delivery_id=delivery_id)


@shared_task(name="core.outbox_relay")
def outbox_relay() -> None:
    from core.outbox import relay

    relay()


@shared_task(name="core.idempotency_purge")
def idempotency_purge() -> None:
    from core.idempotency import idempotency_purge as purge

    purge()
