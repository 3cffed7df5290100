"""Who else has a ticket open, kept in Django's cache (Redis in production).

The ticket page polls every POLL_SECONDS; each poll records the viewer and answers with the
other agents seen in the last PRESENCE_SECONDS. One cache entry per ticket holds
{user id: [name, last seen]}. Two polls at the same instant may each write their own
version and one of the two agents drop out, but only until that agent's next poll 15 s
later: presence is a hint, not a lock (the collision guard is seen_event_id).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from django.core.cache import cache

if TYPE_CHECKING:
    from core.models import User

POLL_SECONDS = 15
PRESENCE_SECONDS = 45


def _key(ticket_id: int) -> str:
    return f"desk:presence:{ticket_id}"


def _fresh(ticket_id: int, now: float) -> dict[str, list[str | float]]:
    seen: dict[str, list[str | float]] = cache.get(_key(ticket_id)) or {}
    return {
        user_id: entry
        for user_id, entry in seen.items()
        if now - float(entry[1]) < PRESENCE_SECONDS
    }


def presence_touch(*, ticket_id: int, user: User) -> list[str]:
    """Record that `user` has the ticket open; the names of the others who have, by name."""
    now = time.time()
    seen = _fresh(ticket_id, now)
    seen[str(user.pk)] = [user.display_name, now]
    cache.set(_key(ticket_id), seen, timeout=PRESENCE_SECONDS)
    return sorted(str(name) for user_id, (name, _) in seen.items() if user_id != str(user.pk))
