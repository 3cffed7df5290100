"""Handing pages to the workers. Never raises for a broker that is down: the sweeper finds
every page that is due whether or not its message arrived."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from django.conf import settings

logger = logging.getLogger(__name__)


def escalate_at(*, page_id: int, eta: datetime | None = None) -> bool:
    """Run the page's due steps at `eta` (now when None), on the paging queue."""
    from incidents.paging.tasks import advance_pages

    try:
        if eta is None:
            advance_pages.apply_async(kwargs={"page_ids": [page_id]})
        else:
            advance_pages.apply_async(kwargs={"page_ids": [page_id]}, eta=eta)
    except Exception as exc:  # noqa: BLE001 - kombu, redis-py and socket errors alike mean "broker down"
        logger.warning("Broker unavailable; page %s left for the sweeper: %s", page_id, exc)
        return False
    return True


def advance_soon(page_ids: Sequence[int]) -> int:
    """Hand due pages to the workers, PAGING_SWEEP_PAGES_PER_TASK per message; returns how
    many messages were sent."""
    from incidents.paging.tasks import advance_pages

    chunk = settings.PAGING_SWEEP_PAGES_PER_TASK
    sent = 0
    try:
        for start in range(0, len(page_ids), chunk):
            ids = list(page_ids[start : start + chunk])
            advance_pages.apply_async(  # type: ignore[call-arg]
                kwargs={"page_ids": ids}, kwargsrepr=f"{{'page_ids': <{len(ids)} ids>}}"
            )
            sent += 1
    except Exception as exc:  # noqa: BLE001 - as above
        logger.warning("Broker unavailable; due pages left for the next sweep: %s", exc)
    return sent
