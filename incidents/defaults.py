"""The severities and message templates a new desk starts with: seed 001's severities and
cadence (§6, §7.3) and the templates of seed 001 §7.2 and seed 003. Migration 0002 wrote
the same rows (a migration keeps its own copy); `defaults_ensure` puts back any that are
missing, so the demo and a desk whose rows were deleted still have them."""

from __future__ import annotations

from django.db import transaction

from incidents.models import SeverityDefinition, UpdateTemplate

SEVERITIES = [
    # level, name, description, who is told, update every, postmortem
    (
        "SEV1",
        "Critical",
        "Complete outage, data loss or a security breach; all customers affected.",
        "Incident commander, on-call engineers, executives, all affected customers",
        30,
        True,
    ),
    (
        "SEV2",
        "High",
        "Major functionality degraded, many customers affected, no workaround.",
        "Incident commander, on-call engineers, affected customers",
        60,
        True,
    ),
    (
        "SEV3",
        "Medium",
        "A feature not working or degraded performance; a workaround exists.",
        "On-call engineers, affected customers on request",
        240,
        False,
    ),
    (
        "SEV4",
        "Low",
        "Minor issue or planned work with little customer impact.",
        "The team working on it",
        0,
        False,
    ),
]

TEMPLATES = [
    (
        "Incident notification (seed 001 §7.2.1)",
        "initial",
        "seed 001 §7.2.1",
        """Subject: URGENT: Service Incident - [Incident ID]

Dear [Customer Name],

We are experiencing a [severity] service incident affecting [affected systems].

Impact: [Description of impact]
Estimated Resolution: [Time or TBA]

Status Updates:
- [Time]: [Update]

We apologize for the inconvenience and are working to resolve this as quickly as possible.

Sincerely,
The Support Team""",
    ),
    (
        "Initial response (seed 003)",
        "initial",
        "seed 003",
        """Hi [Customer Name],

Thank you for reporting this issue. We've received your report and are investigating immediately.

**Issue**: [Brief description]
**Status**: [Status]
**Expected Update**: [Next update]
**Severity**: [severity]

We'll keep you updated every [Cadence].

Best regards,
[Support Team]""",
    ),
    (
        "Status update",
        "update",
        "seed 001 §7.3",
        """[Incident ID] [Title] — [Status]

[Update]

Next update by [Next update].""",
    ),
    (
        "Resolution confirmation (seed 001 §7.2.2)",
        "resolution",
        "seed 001 §7.2.2",
        """Subject: Incident [Incident ID] Resolved

Dear [Customer Name],

We are pleased to inform you that the service incident affecting [affected systems] has been resolved.

Summary:
- Issue: [Brief description]
- Resolution: [What was fixed]
- Duration: [Duration]
- Root Cause: [Analysis summary]

We have implemented [preventive measures] to avoid recurrence.

If you experience any issues, please contact us immediately.

Sincerely,
The Support Team""",
    ),
    (
        "Resolution (seed 003)",
        "resolution",
        "seed 003",
        """Hi [Customer Name],

We've successfully resolved the issue you reported.

**Issue**: [Brief description]
**Root Cause**: [What caused it]
**Solution**: [What we did]
**Verification**: [How we verified it's fixed]

If you continue to experience issues, please let us know immediately.

Best regards,
[Support Team]""",
    ),
]


def defaults_ensure() -> None:
    """Create the default severities and templates that are missing; change none."""
    with transaction.atomic():
        for level, name, description, who, minutes, postmortem in SEVERITIES:
            SeverityDefinition.objects.get_or_create(
                level=level,
                defaults={
                    "name": name, "description": description, "who_is_told": who,
                    "update_minutes": minutes, "first_update_minutes": 15,
                    "postmortem_required": postmortem, "postmortem_due_hours": 24,
                },
            )  # fmt: skip
        for position, (name, kind, source, body) in enumerate(TEMPLATES):
            UpdateTemplate.objects.get_or_create(
                name=name,
                defaults={"kind": kind, "source": source, "body": body, "position": position},
            )


def default_severity(level: str) -> SeverityDefinition:
    """The default definition of `level` (unsaved), for a desk whose row was deleted."""
    for row_level, name, description, who, minutes, postmortem in SEVERITIES:
        if row_level == level:
            return SeverityDefinition(
                level=level, name=name, description=description, who_is_told=who,
                update_minutes=minutes, first_update_minutes=15,
                postmortem_required=postmortem, postmortem_due_hours=24,
            )  # fmt: skip
    return SeverityDefinition(level=level, name=level, update_minutes=0, postmortem_required=False)
