"""Thin tasks: each calls one routing service. Names, queues and the schedule are in
settings (the `# ---- routing` section)."""

from celery import shared_task
from django.db import InterfaceError, OperationalError


@shared_task(
    name="routing.assign_waiting",
    autoretry_for=(OperationalError, InterfaceError),  # the database is away for a moment
    retry_backoff=True,
    max_retries=3,
)
def assign_waiting() -> None:
    """Give waiting tickets to agents who have room again (Celery beat, every few seconds):
    capacity frees when tickets are resolved, closed or wait on the customer."""
    from routing.services.routing import waiting_tickets_assign

    waiting_tickets_assign()
