"""Postmortems (blameless, seed 002's sections) and their action items."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.models import User
from incidents.errors import InvalidIncidentInput, InvalidTransition
from incidents.models import (
    ActionItem,
    ActionStatus,
    EntryKind,
    Incident,
    Postmortem,
    TimelineEntry,
)
from incidents.services.common import locked, record, refuse_if_closed
from incidents.states import ENDED
from tickets.models import Ticket

SECTIONS = tuple(name for name, _ in Postmortem.SECTIONS)


def timeline_text(incident: Incident) -> str:
    """The incident's timeline as the postmortem's starting point (reminders left out)."""
    lines = []
    entries = (
        TimelineEntry.objects.filter(incident=incident)
        .exclude(kind=EntryKind.REMINDER)
        .select_related("actor")
        .order_by("at", "id")
    )
    for entry in entries:
        when = timezone.localtime(entry.at).strftime("%Y-%m-%d %H:%M %Z")
        who = f" ({entry.actor.display_name})" if entry.actor else ""
        text = entry.text.replace("\n", " ")
        lines.append(f"- {when}: {text}{who}")
    return "\n".join(lines)


@transaction.atomic
def postmortem_save(*, incident: Incident | int, actor: User, **sections: Any) -> Postmortem:
    """Write sections of the postmortem (once the incident is resolved)."""
    from incidents.services.lifecycle import postmortem_start

    unknown = set(sections) - set(SECTIONS)
    if unknown:
        raise InvalidIncidentInput(f"Unknown sections: {', '.join(sorted(unknown))}.")
    incident = locked(incident)
    refuse_if_closed(incident)
    if incident.status not in ENDED:
        raise InvalidTransition("The postmortem is written once the incident is resolved.")
    postmortem = postmortem_start(incident, actor)
    # Browsers send CRLF line ends: a section that was not touched is not a change.
    cleaned = {k: (v or "").replace("\r\n", "\n").strip() for k, v in sections.items()}
    changed = [k for k, v in cleaned.items() if getattr(postmortem, k).strip() != v]
    if not changed:
        return postmortem
    for name in changed:
        setattr(postmortem, name, cleaned[name])
    postmortem.updated_by = actor
    postmortem.updated_at = timezone.now()
    postmortem.save()
    record(
        incident, EntryKind.POSTMORTEM,
        f"Postmortem edited: {', '.join(dict(Postmortem.SECTIONS)[c].lower() for c in changed)}",
        actor=actor, sections=changed,
    )  # fmt: skip
    return postmortem


@transaction.atomic
def postmortem_import_timeline(*, incident: Incident | int, actor: User) -> Postmortem:
    incident = locked(incident)
    return postmortem_save(incident=incident, actor=actor, timeline=timeline_text(incident))


@transaction.atomic
def action_item_add(
    *,
    incident: Incident | int,
    actor: User,
    title: str,
    owner: User | None,
    due_date: date | None = None,
    ticket: Ticket | None = None,
) -> ActionItem:
    title = (title or "").strip()
    if not title:
        raise InvalidIncidentInput("Say what is to be done.", field="title")
    if owner is None:
        raise InvalidIncidentInput("An action item needs an owner.", field="owner")
    if not (owner.is_active and owner.is_staff):
        raise InvalidIncidentInput("The owner is an active agent.", field="owner")
    incident = locked(incident)
    refuse_if_closed(incident)
    item = ActionItem.objects.create(
        incident=incident, title=title[:300], owner=owner, due_date=due_date, ticket=ticket,
        created_by=actor,
    )  # fmt: skip
    record(
        incident, EntryKind.ACTION_ITEM, f"Action item: {item.title} ({owner.display_name})",
        actor=actor, item_id=item.pk,
    )  # fmt: skip
    if owner.pk != actor.pk:
        from incidents.notify.services import notify

        notify(
            recipient=owner,
            subject=f"Action item from {incident.reference}: {item.title}"[:300],
            body=f"{actor.display_name} gave you an action item"
            + (f", due {due_date:%Y-%m-%d}." if due_date else "."),
            key=f"incident-action/{item.pk}",
            source="incident",
            source_id=incident.pk,
        )
    return item


@transaction.atomic
def action_item_change(
    *, item: ActionItem | int, actor: User, status: str, deferred_reason: str = ""
) -> ActionItem:
    """Move an action item; deferring needs a reason."""
    item_id = item if isinstance(item, int) else item.pk
    found = ActionItem.objects.select_for_update().filter(pk=item_id).first()
    if found is None:
        raise InvalidIncidentInput("No such action item.", field="item")
    if status not in ActionStatus.values:
        raise InvalidIncidentInput(f"Unknown status {status!r}.", field="status")
    deferred_reason = (deferred_reason or "").strip()
    if status == ActionStatus.DEFERRED and not deferred_reason:
        raise InvalidIncidentInput("Say why it is deferred.", field="deferred_reason")
    incident = locked(found.incident_id)
    refuse_if_closed(incident)
    if found.status == status and found.deferred_reason == deferred_reason:
        return found
    found.status = status
    found.deferred_reason = deferred_reason if status == ActionStatus.DEFERRED else ""
    found.save()
    reason = f" ({deferred_reason})" if status == ActionStatus.DEFERRED else ""
    record(
        incident, EntryKind.ACTION_ITEM,
        f"Action item {found.title}: {ActionStatus(status).label.lower()}{reason}",
        actor=actor, item_id=found.pk, status=status,
    )  # fmt: skip
    return found
