"""What the incident services share: locking, the timeline writer, lookups and checks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from core.models import User
from incidents.defaults import default_severity
from incidents.errors import IncidentClosed, IncidentNotFound, UnknownSeverity
from incidents.models import EntryKind, Incident, SeverityDefinition, TimelineEntry
from incidents.states import Level, Status


def locked(incident: Incident | int) -> Incident:
    incident_id = incident if isinstance(incident, int) else incident.pk
    found = Incident.objects.select_for_update(of=("self",)).filter(pk=incident_id).first()
    if found is None:
        raise IncidentNotFound("No such incident.")
    return found


def refuse_if_closed(incident: Incident) -> None:
    if incident.status == Status.CLOSED:
        raise IncidentClosed("The incident is closed.")


def check_level(value: str) -> str:
    value = (value or "").strip().upper()
    if value not in Level.values:
        raise UnknownSeverity(
            f"Unknown severity {value!r}: choose one of {', '.join(Level.values)}.",
            field="severity",
        )
    return value


def definition(level: str) -> SeverityDefinition:
    found = SeverityDefinition.objects.filter(level=level).first()
    if found is None:  # the seeded row was deleted: fall back on the defaults
        return default_severity(level)
    return found


def record(
    incident: Incident,
    kind: str,
    text: str,
    *,
    actor: User | None,
    public: bool = False,
    at: datetime | None = None,
    **detail: Any,
) -> TimelineEntry:
    now = timezone.now()
    return TimelineEntry.objects.create(
        incident=incident, kind=kind, text=text, actor=actor, public=public, at=at or now,
        detail=detail, created_at=now,
    )  # fmt: skip


def name_of(user: User | None) -> str:
    return user.display_name if user is not None else "nobody"


__all__ = ["EntryKind", "check_level", "definition", "locked", "name_of", "record"]
