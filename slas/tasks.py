"""Thin tasks: each calls one service of slas. Names, queues and the schedule are in settings."""

from celery import shared_task
from django.db import InterfaceError, OperationalError


@shared_task(
    name="slas.sweep",
    autoretry_for=(OperationalError, InterfaceError),  # the database is away for a moment
    retry_backoff=True,
    max_retries=3,
)
def sweep() -> None:
    """Warn and breach what is due (beat, every SLA_SWEEP_INTERVAL_SECONDS). Idempotent:
    a sweep that runs twice, or beside another, records nothing twice."""
    from slas.services.sweep import sla_sweep

    sla_sweep()


@shared_task(
    name="slas.enqueue_deliveries",
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=3,
)
def enqueue_deliveries(*, deliveries: list[list[int | str]]) -> None:
    """Hand a burst of outbox deliveries ([id, queue] pairs) from one sweep batch to the
    broker (`core.outbox.enqueue`: messages of up to OUTBOX_DELIVERIES_PER_MESSAGE per
    queue). Sending one twice is harmless: a delivery runs once."""
    from core.outbox import enqueue

    enqueue([(int(delivery_id), str(queue)) for delivery_id, queue in deliveries])
