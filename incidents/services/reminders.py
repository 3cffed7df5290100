"""Reminders driven by stored due times: a status update due (commander and communications
lead), no public update yet since declaring (communications lead), a postmortem due
(commander, technical lead).

The sweeper inserts one `Reminder` row per incident, cause and due time with
`INSERT … SELECT … ON CONFLICT DO NOTHING`: whatever is due now or earlier gets its row,
so a missed sweep catches up and a second sweep adds nothing (exactly once per due time).
Sending is a second step (`reminder_send`), once per row (`sent_at`, under a row lock); rows
left unsent by a lost task are handed out again by a later sweep.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from core.models import User
from incidents.models import EntryKind, Incident, Reminder, ReminderKind
from incidents.services.common import record
from incidents.states import ACTIVE, Status

STALE_AFTER = timedelta(minutes=2)

_ACTIVE_SQL = "(" + ", ".join(f"'{s}'" for s in sorted(ACTIVE)) + ")"

# kind → (the due-time column, the extra condition)
_SOURCES = {
    ReminderKind.UPDATE_DUE: ("next_update_due_at", f"status IN {_ACTIVE_SQL}"),
    ReminderKind.FIRST_UPDATE: (
        "first_update_due_at",
        f"status IN {_ACTIVE_SQL} AND first_public_update_at IS NULL",
    ),
    ReminderKind.POSTMORTEM_DUE: (
        "postmortem_due_at",
        f"status IN ('{Status.RESOLVED}', '{Status.POSTMORTEM}')",
    ),
}


def reminders_sweep(*, now: datetime | None = None) -> list[int]:
    """Make the reminders that are due; returns the ids to send (new ones, and any left
    unsent for longer than STALE_AFTER)."""
    now = now or timezone.now()
    incident_table = Incident._meta.db_table
    reminder_table = Reminder._meta.db_table
    made: list[int] = []
    with transaction.atomic(), connection.cursor() as cursor:
        for kind, (column, condition) in _SOURCES.items():
            cursor.execute(
                f"""INSERT INTO {reminder_table} (incident_id, kind, due_at, created_at)
                SELECT id, %s, {column}, %s FROM {incident_table}
                WHERE {column} <= %s AND {condition}
                ON CONFLICT (incident_id, kind, due_at) DO NOTHING
                RETURNING id""",  # noqa: S608 - names are ours
                [str(kind), now, now],
            )
            made.extend(row[0] for row in cursor.fetchall())
    stale = Reminder.objects.filter(sent_at__isnull=True, created_at__lt=now - STALE_AFTER)
    made.extend(stale.exclude(pk__in=made).values_list("pk", flat=True)[:1000])
    return made


def _recipients(incident: Incident, kind: str) -> list[User]:
    people: list[User | None]
    if kind == ReminderKind.FIRST_UPDATE:
        people = [incident.communications_lead or incident.commander]
    elif kind == ReminderKind.UPDATE_DUE:
        people = [incident.commander, incident.communications_lead]
    else:
        people = [incident.commander, incident.technical_lead]
    seen: dict[int, User] = {}
    for person in people:
        if person is not None and person.is_active:
            seen.setdefault(person.pk, person)
    return list(seen.values())


def _still_due(incident: Incident, reminder: Reminder) -> bool:
    if reminder.kind == ReminderKind.UPDATE_DUE:
        return incident.status in ACTIVE and incident.next_update_due_at == reminder.due_at
    if reminder.kind == ReminderKind.FIRST_UPDATE:
        return incident.status in ACTIVE and incident.first_public_update_at is None
    return incident.status in (Status.RESOLVED, Status.POSTMORTEM)


_SUBJECTS = {
    ReminderKind.UPDATE_DUE: "A status update is due on {ref}: {title}",
    ReminderKind.FIRST_UPDATE: "No public update yet on {ref}: {title}",
    ReminderKind.POSTMORTEM_DUE: "The postmortem of {ref} is due: {title}",
}


def reminder_send(*, reminder_id: int) -> bool:
    """Send one reminder, once; a reminder whose cause has passed (the update was posted
    meanwhile) is marked sent without telling anyone. True when someone was told."""
    from incidents.notify.services import notify

    with transaction.atomic():
        reminder = (
            Reminder.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related(
                "incident__commander", "incident__communications_lead", "incident__technical_lead"
            )
            .filter(pk=reminder_id, sent_at__isnull=True)
            .first()
        )
        if reminder is None:
            return False
        incident = reminder.incident
        told = False
        if _still_due(incident, reminder):
            subject = _SUBJECTS[ReminderKind(reminder.kind)].format(
                ref=incident.reference, title=incident.title
            )
            due = timezone.localtime(reminder.due_at).strftime("%H:%M %Z")
            people = _recipients(incident, reminder.kind)
            for person in people:
                notify(
                    recipient=person,
                    subject=subject[:300],
                    body=f"{subject} (due {due}).",
                    key=f"incident-reminder/{reminder.pk}/{person.pk}",
                    importance="important",
                    source="incident",
                    source_id=incident.pk,
                    actions={"Open the incident": f"/desk/incidents/{incident.pk}/"},
                )
            record(
                incident, EntryKind.REMINDER,
                f"Reminded {', '.join(p.display_name for p in people) or 'nobody'}: "
                f"{ReminderKind(reminder.kind).label.lower()} ({due})",
                actor=None, reminder=reminder.kind,
            )  # fmt: skip
            told = bool(people)
        reminder.sent_at = timezone.now()
        reminder.save(update_fields=["sent_at"])
    return told
