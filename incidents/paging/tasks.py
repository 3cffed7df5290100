"""Thin tasks: each calls one service of paging. Names, queues and the schedule are in settings."""

from celery import shared_task
from django.db import InterfaceError, OperationalError


@shared_task(
    name="paging.advance_pages",
    autoretry_for=(OperationalError, InterfaceError),  # the database is away for a moment
    retry_backoff=True,
    max_retries=3,
)
def advance_pages(*, page_ids: list[int]) -> None:
    """Run what is due on each page (its next steps, or its reminder). Idempotent: a step
    runs once however many messages name the page."""
    from incidents.paging.services.engine import page_advance

    for page_id in page_ids:
        page_advance(page_id=int(page_id))


@shared_task(
    name="paging.sweep",
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=3,
)
def sweep() -> None:
    """Hand every page with a step or reminder due to the workers (beat, every
    PAGING_SWEEP_INTERVAL_SECONDS)."""
    from incidents.paging.services.sweep import paging_sweep

    paging_sweep()
