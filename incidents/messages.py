"""Message templates: [Variables] filled in from an incident (no I/O beyond what the caller
passes). `[Customer Name]` is left for each recipient: it becomes the name of the reader's
own community, so no message names another community."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta

from django.utils import timezone

CUSTOMER = "[Customer Name]"
_VARIABLE = re.compile(r"\[([A-Za-z][A-Za-z ./'-]{0,40})\]")


def _when(value: datetime | None) -> str:
    if value is None:
        return "TBA"
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M %Z")


def _duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def variables(
    *,
    reference: str,
    title: str,
    severity: str,
    priority: str,
    status: str,
    components: str,
    next_update: datetime | None,
    cadence_minutes: int,
    started: datetime,
    resolved: datetime | None,
    latest_update: str = "",
) -> dict[str, str]:
    now = timezone.now()
    return {
        "Incident ID": reference,
        "Title": title,
        "severity": f"{severity} ({priority})",
        "Severity": f"{severity} ({priority})",
        "Critical/High/Medium/Low": f"{severity} ({priority})",
        "Status": status,
        "affected systems": components or "our service",
        "Brief description": title,
        "Next update": _when(next_update),
        "Time": _when(now),
        "Cadence": f"{cadence_minutes} minutes" if cadence_minutes else "as things change",
        "Duration": _duration((resolved or now) - started),
        "Update": latest_update or "",
    }


def render(body: str, values: Mapping[str, str]) -> str:
    """Replace each known [Variable]; unknown ones stay for the writer to fill in."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        return values.get(name, match.group(0)) if values.get(name, None) != "" else ""

    return _VARIABLE.sub(one, body)


def for_reader(body: str, community_name: str | None) -> str:
    """The message as one community's people read it."""
    return body.replace(CUSTOMER, community_name or "customer")
