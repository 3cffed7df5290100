"""Reactions of routing to ticket events (listed in supportdesk/events.py)."""

from __future__ import annotations

import logging

from core.models import Event

logger = logging.getLogger(__name__)


def route_ticket(*, event: Event) -> None:
    """Routing has not been built yet: a ticket that is due for routing stays where it is.

    The delivery is still recorded as done, which shows that the work reached a worker.
    """
    logger.info("Ticket %s is due for routing (no rules yet)", event.payload.get("ticket_id"))
