"""Incident status, severity and the transition table (no I/O)."""

from __future__ import annotations

from django.db import models


class Status(models.TextChoices):
    INVESTIGATING = "investigating", "Investigating"
    IDENTIFIED = "identified", "Identified"
    MONITORING = "monitoring", "Monitoring"
    RESOLVED = "resolved", "Resolved"
    POSTMORTEM = "postmortem", "Postmortem"
    CLOSED = "closed", "Closed"


class Level(models.TextChoices):
    SEV1 = "SEV1", "SEV1 (P1, critical)"
    SEV2 = "SEV2", "SEV2 (P2, high)"
    SEV3 = "SEV3", "SEV3 (P3, medium)"
    SEV4 = "SEV4", "SEV4 (P4, low)"


class Degree(models.TextChoices):
    DEGRADED = "degraded", "Degraded performance"
    PARTIAL = "partial_outage", "Partial outage"
    MAJOR = "major_outage", "Major outage"


# While active, an incident is worked on and shown in the portal banner.
ACTIVE = frozenset({Status.INVESTIGATING, Status.IDENTIFIED, Status.MONITORING})
# Resolved and later: the impact is over.
ENDED = frozenset({Status.RESOLVED, Status.POSTMORTEM, Status.CLOSED})

# Allowed moves. Resolving is done by posting the final public update (a status update with
# status `resolved`), never by a bare transition: see services.incident_transition.
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.INVESTIGATING: frozenset({Status.IDENTIFIED, Status.MONITORING, Status.RESOLVED}),
    Status.IDENTIFIED: frozenset({Status.INVESTIGATING, Status.MONITORING, Status.RESOLVED}),
    Status.MONITORING: frozenset({Status.INVESTIGATING, Status.IDENTIFIED, Status.RESOLVED}),
    # Reopening goes back to investigating; a postmortem is written; incidents that need no
    # postmortem (see SeverityDefinition.postmortem_required) close straight away.
    Status.RESOLVED: frozenset({Status.INVESTIGATING, Status.POSTMORTEM, Status.CLOSED}),
    Status.POSTMORTEM: frozenset({Status.CLOSED}),
    Status.CLOSED: frozenset(),
}

# Severity ↔ priority ↔ ticket severity (seed 001: P1-P4).
PRIORITY = {Level.SEV1: "P1", Level.SEV2: "P2", Level.SEV3: "P3", Level.SEV4: "P4"}
TICKET_SEVERITY = {
    Level.SEV1: "critical",
    Level.SEV2: "high",
    Level.SEV3: "medium",
    Level.SEV4: "low",
}
LEVEL_OF_TICKET_SEVERITY = {v: k for k, v in TICKET_SEVERITY.items()}


def can_move(source: str, target: str) -> bool:
    return target in TRANSITIONS.get(source, frozenset())
