"""Thin tasks: each calls one function of incidents.notify.sending. Queues and the beat
schedule are in settings (queue `paging`)."""

from celery import shared_task
from django.db import InterfaceError, OperationalError


@shared_task(
    name="notify.send_delivery",
    autoretry_for=(OperationalError, InterfaceError),  # the database is away for a moment
    retry_backoff=True,
    max_retries=3,
)
def send_delivery(*, delivery_id: int, attempt: int | None = None) -> None:
    """Send one delivery. Idempotent: a delivery already sent, not due, or held by another
    worker is left alone."""
    from incidents.notify.sending import deliver

    deliver(delivery_id=delivery_id, attempt=attempt)


@shared_task(
    name="notify.sweep",
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=3,
)
def sweep() -> None:
    """Claim due deliveries (later rule steps, retries, and those whose worker died) and
    hand them to workers (beat, every PAGING_DELIVERY_SWEEP_SECONDS)."""
    from incidents.notify.sending import sweep as delivery_sweep

    delivery_sweep()
