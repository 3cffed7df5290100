"""Declaring an incident and every change to it: status, details and times, roles,
affected communities and components, linked tickets, notes.

Each service locks the incident, checks, writes the change and a timeline entry (the
audit: who, what, when), and is idempotent: asking for what is already so changes and
records nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from communities.models import Community
from core.models import User
from incidents.errors import (
    FinalUpdateRequired,
    InvalidIncidentInput,
    InvalidTransition,
    OpenActionItems,
    TimesOutOfOrder,
)
from incidents.models import (
    ActionItem,
    ActionStatus,
    Component,
    EntryKind,
    Incident,
    IncidentCommunity,
    IncidentComponent,
    IncidentTicket,
    Postmortem,
    TimelineEntry,
)
from incidents.services.common import (
    check_level,
    definition,
    locked,
    name_of,
    record,
    refuse_if_closed,
)
from incidents.states import ACTIVE, TICKET_SEVERITY, Degree, Level, Status, can_move
from tickets.models import Ticket

ROLES = {
    "commander": "Incident commander",
    "technical_lead": "Technical lead",
    "communications_lead": "Communications lead",
}


def _agent(user: User | None, field: str, *, required: bool = False) -> User | None:
    if user is None:
        if required:
            raise InvalidIncidentInput("Choose someone.", field=field)
        return None
    if not (user.is_active and user.is_staff):
        raise InvalidIncidentInput("Choose an active agent.", field=field)
    return user


def check_times(
    *,
    impact_started_at: datetime,
    detected_at: datetime,
    mitigated_at: datetime | None,
    resolved_at: datetime | None,
    now: datetime | None = None,
) -> None:
    """Impact start ≤ detected; start ≤ mitigated ≤ resolved; detected ≤ resolved; none of
    them in the future."""
    now = now or timezone.now()
    slack = timedelta(minutes=1)  # clocks of browsers and servers disagree a little
    named = {
        "impact_started_at": impact_started_at,
        "detected_at": detected_at,
        "mitigated_at": mitigated_at,
        "resolved_at": resolved_at,
    }
    for field, value in named.items():
        if value is not None and value > now + slack:
            raise TimesOutOfOrder("This time is in the future.", field=field)
    if detected_at < impact_started_at:
        raise TimesOutOfOrder("Detected before the impact started.", field="detected_at")
    if mitigated_at is not None and mitigated_at < impact_started_at:
        raise TimesOutOfOrder("Mitigated before the impact started.", field="mitigated_at")
    if resolved_at is not None:
        if resolved_at < detected_at:
            raise TimesOutOfOrder("Resolved before it was detected.", field="resolved_at")
        if mitigated_at is not None and resolved_at < mitigated_at:
            raise TimesOutOfOrder("Resolved before it was mitigated.", field="resolved_at")


def _cadence_due(incident: Incident, since: datetime) -> datetime | None:
    if incident.status not in ACTIVE:
        return None
    minutes = definition(incident.severity).update_minutes
    return since + timedelta(minutes=minutes) if minutes else None


def _add_community(incident: Incident, community: Community, actor: User | None) -> bool:
    _, created = IncidentCommunity.objects.get_or_create(incident=incident, community=community)
    if created:
        record(
            incident, EntryKind.COMMUNITY, f"{community.name} affected", actor=actor,
            community_id=community.pk,
        )  # fmt: skip
    return created


def _link_ticket(incident: Incident, ticket: Ticket, actor: User | None) -> bool:
    _, created = IncidentTicket.objects.get_or_create(
        incident=incident, ticket=ticket, defaults={"linked_by": actor}
    )
    if created:
        record(
            incident, EntryKind.TICKET, f"Linked {ticket.reference}: {ticket.subject}",
            actor=actor, ticket_id=ticket.pk,
        )  # fmt: skip
        _add_community(incident, ticket.community, actor)
    return created


def incident_declare(
    *,
    actor: User,
    title: str,
    severity: str,
    summary: str = "",
    communities: Iterable[Community] = (),
    tickets: Sequence[Ticket] = (),
    commander: User | None = None,
    impact_started_at: datetime | None = None,
    detected_at: datetime | None = None,
    maintenance: bool = False,
    page: Any = None,
    via: str = "desk",
    key: str = "",
) -> Incident:
    """Declare an incident: the declarer commands unless someone else is named; the on-call
    is paged through the severity's escalation policy (not for planned maintenance, nor when
    declared from a page, which is linked instead); the timeline starts; the first public
    update falls due. Idempotent on `key`."""
    title = (title or "").strip()
    if not title:
        raise InvalidIncidentInput("An incident needs a title.", field="title")
    level = check_level(severity)
    _agent(actor, "actor", required=True)
    commander = _agent(commander, "commander") or actor
    now = timezone.now()
    detected_at = detected_at or now
    impact_started_at = impact_started_at or detected_at
    check_times(
        impact_started_at=impact_started_at, detected_at=detected_at, mitigated_at=None,
        resolved_at=None, now=now,
    )  # fmt: skip
    if key:
        existing = Incident.objects.filter(key=key).first()
        if existing is not None:
            return existing
    sev = definition(level)
    with transaction.atomic():
        try:
            with transaction.atomic():
                incident = Incident.objects.create(
                    title=title[:200], summary=summary, severity=level, maintenance=maintenance,
                    declared_by=actor, declared_at=now, impact_started_at=impact_started_at,
                    detected_at=detected_at, commander=commander, key=key,
                    first_update_due_at=now + timedelta(minutes=sev.first_update_minutes),
                    next_update_due_at=(
                        now + timedelta(minutes=sev.update_minutes) if sev.update_minutes else None
                    ),
                    page=page, updated_at=now,
                )  # fmt: skip
        except IntegrityError:
            if not key:
                raise
            return Incident.objects.get(key=key)
        record(
            incident, EntryKind.DECLARED,
            f"Declared {level} ({sev.priority}) by {actor.display_name} from the {via}; "
            f"{commander.display_name} commands.",
            actor=actor, at=now, via=via, severity=level, commander_id=commander.pk,
        )  # fmt: skip
        record(
            incident, EntryKind.STATUS, "Investigating", actor=actor, public=True, at=now,
            status=Status.INVESTIGATING,
        )  # fmt: skip
        if impact_started_at < now:
            record(
                incident, EntryKind.TIMES, "Impact started", actor=actor, at=impact_started_at,
                field="impact_started_at",
            )  # fmt: skip
        for community in communities:
            _add_community(incident, community, actor)
        for ticket in tickets:
            _link_ticket(incident, ticket, actor)
        if page is not None:
            record(
                incident, EntryKind.PAGE, f"Declared from page {page.pk} ({page.title})",
                actor=actor, page_id=page.pk,
            )  # fmt: skip
        elif not maintenance:
            _page(incident, actor=actor, via=via, tickets=tickets)
    return incident


def _page(incident: Incident, *, actor: User, via: str, tickets: Sequence[Ticket]) -> None:
    from incidents.paging.services.pages import open_page_for_incident

    first = IncidentCommunity.objects.filter(incident=incident).select_related("community").first()
    page = open_page_for_incident(
        incident_id=incident.pk,
        title=f"{incident.reference} {incident.title}",
        details=incident.summary,
        severity=TICKET_SEVERITY[Level(incident.severity)],
        community=first.community if first is not None else None,
        ticket=tickets[0] if tickets else None,
        actor=actor,
        via=via if via in ("desk", "api") else "system",
    )
    incident.page = page
    incident.save(update_fields=["page"])
    record(
        incident, EntryKind.PAGE, f"Paged the on-call (page {page.pk}, {page.get_state_display()})",
        actor=actor, page_id=page.pk,
    )  # fmt: skip


@transaction.atomic
def incident_transition(
    *, incident: Incident | int, to: str, actor: User, reason: str = ""
) -> Incident:
    """Move the incident along the transition table. Resolving needs the final public update
    (incident_update_post with status `resolved`); closing needs the postmortem's action
    items done or deferred with a reason."""
    incident = locked(incident)
    if to not in Status.values:
        raise InvalidIncidentInput(f"Unknown status {to!r}.", field="status")
    if incident.status == to:
        return incident
    if not can_move(incident.status, to):
        raise InvalidTransition(
            f"An incident that is {incident.get_status_display().lower()} cannot become {to}.",
            field="status",
        )
    if to == Status.RESOLVED:
        raise FinalUpdateRequired(
            "Post the final public update to resolve: it tells everyone affected.",
            field="status",
        )
    now = timezone.now()
    if to == Status.CLOSED:
        _check_can_close(incident)
        incident.closed_at = now
        Postmortem.objects.filter(incident=incident, published_at__isnull=True).update(
            published_at=now
        )
    if to == Status.POSTMORTEM:
        postmortem_start(incident, actor)
    if incident.status in (Status.RESOLVED,) and to == Status.INVESTIGATING:
        incident.resolved_at = None
        incident.postmortem_due_at = None
    previous = incident.status
    incident.status = to
    if to in ACTIVE:
        incident.next_update_due_at = incident.next_update_due_at or _cadence_due(incident, now)
    incident.updated_at = now
    incident.save()
    text = Status(to).label + (f": {reason}" if reason else "")
    record(
        incident, EntryKind.STATUS, text, actor=actor, public=to in ACTIVE, at=now,
        status=to, previous=previous,
    )  # fmt: skip
    return incident


def _check_can_close(incident: Incident) -> None:
    if incident.status == Status.RESOLVED and definition(incident.severity).postmortem_required:
        raise InvalidTransition(
            f"A {incident.severity} incident needs its postmortem before it closes.",
            field="status",
        )
    left = ActionItem.objects.filter(
        incident=incident, status__in=[ActionStatus.OPEN, ActionStatus.IN_PROGRESS]
    ).count()
    if left:
        raise OpenActionItems(
            f"{left} action item(s) still open: finish them or defer them with a reason.",
            field="status",
        )


def postmortem_start(incident: Incident, actor: User | None) -> Postmortem:
    from incidents.services.postmortems import timeline_text

    postmortem, created = Postmortem.objects.get_or_create(
        incident=incident,
        defaults={"timeline": timeline_text(incident), "updated_by": actor},
    )
    if created:
        record(incident, EntryKind.POSTMORTEM, "Postmortem started", actor=actor)
    return postmortem


CHANGEABLE = ("title", "summary", "severity", "maintenance")
TIMES = ("impact_started_at", "detected_at", "mitigated_at", "resolved_at")
TIME_LABELS = {
    "impact_started_at": "Impact started",
    "detected_at": "Detected",
    "mitigated_at": "Mitigated",
    "resolved_at": "Resolved",
}


@transaction.atomic
def incident_change(*, incident: Incident | int, actor: User, **changes: Any) -> Incident:
    """Change the title, summary, severity, maintenance flag or the impact times. Times keep
    their order; `resolved_at` is set by resolving and only corrected afterwards."""
    unknown = set(changes) - set(CHANGEABLE) - set(TIMES)
    if unknown:
        raise InvalidIncidentInput(f"Cannot change {', '.join(sorted(unknown))}.")
    incident = locked(incident)
    refuse_if_closed(incident)
    now = timezone.now()
    if "title" in changes:
        changes["title"] = (changes["title"] or "").strip()
        if not changes["title"]:
            raise InvalidIncidentInput("An incident needs a title.", field="title")
    if "severity" in changes:
        changes["severity"] = check_level(changes["severity"])
    if changes.get("resolved_at") is not None and incident.resolved_at is None:
        raise InvalidIncidentInput(
            "Resolve the incident with its final update first.", field="resolved_at"
        )
    if "resolved_at" in changes and changes["resolved_at"] is None and incident.resolved_at:
        raise InvalidIncidentInput("A resolved incident keeps its time.", field="resolved_at")
    for required in ("impact_started_at", "detected_at"):
        if required in changes and changes[required] is None:
            raise InvalidIncidentInput("This time is required.", field=required)
    times = {name: changes.get(name, getattr(incident, name)) for name in TIMES}
    check_times(**times, now=now)
    changed = {k: v for k, v in changes.items() if getattr(incident, k) != v}
    if not changed:
        return incident
    for name, value in changed.items():
        old = getattr(incident, name)
        setattr(incident, name, value)
        if name == "severity":
            record(
                incident, EntryKind.SEVERITY, f"Severity {old} → {value}", actor=actor,
                at=now, previous=old, severity=value,
            )  # fmt: skip
        elif name in TIMES:
            record(
                incident, EntryKind.TIMES, f"{TIME_LABELS[name]} set", actor=actor,
                at=value or now, field=name,
                previous=old.isoformat() if old else None,
            )  # fmt: skip
        else:
            record(incident, EntryKind.FIELDS, f"{name.capitalize()} changed", actor=actor, at=now,
                   field=name)  # fmt: skip
    if "severity" in changed and incident.status in ACTIVE:
        since = (
            incident.updates.values_list("created_at", flat=True).first() or incident.declared_at
        )
        incident.next_update_due_at = _cadence_due(incident, since)
    incident.updated_at = now
    incident.save()
    return incident


@transaction.atomic
def incident_assign_role(
    *, incident: Incident | int, role: str, user: User | None, actor: User
) -> Incident:
    """Hand a role to someone (the commander role cannot be empty); they are told."""
    if role not in ROLES:
        raise InvalidIncidentInput(f"Unknown role {role!r}.", field="role")
    incident = locked(incident)
    refuse_if_closed(incident)
    _agent(user, role, required=role == "commander")
    if getattr(incident, f"{role}_id") == (user.pk if user else None):
        return incident
    previous = getattr(incident, role)
    setattr(incident, role, user)
    incident.updated_at = timezone.now()
    incident.save()
    entry = record(
        incident, EntryKind.ROLE,
        f"{ROLES[role]}: {name_of(user)} (was {name_of(previous)})", actor=actor, role=role,
        user_id=user.pk if user else None, previous_id=previous.pk if previous else None,
    )  # fmt: skip
    if user is not None and user.pk != actor.pk:
        from incidents.notify.services import notify

        notify(
            recipient=user,
            subject=f"You are {ROLES[role].lower()} of {incident.reference}: {incident.title}",
            body=f"{actor.display_name} made you {ROLES[role].lower()} of {incident.reference}.",
            key=f"incident/{incident.pk}/role/{entry.pk}",
            importance="important",
            source="incident",
            source_id=incident.pk,
        )
    return incident


@transaction.atomic
def incident_community_add(
    *, incident: Incident | int, community: Community, actor: User
) -> Incident:
    incident = locked(incident)
    refuse_if_closed(incident)
    _add_community(incident, community, actor)
    return incident


@transaction.atomic
def incident_community_remove(
    *, incident: Incident | int, community: Community, actor: User
) -> Incident:
    incident = locked(incident)
    refuse_if_closed(incident)
    if IncidentTicket.objects.filter(incident=incident, ticket__community=community).exists():
        raise InvalidIncidentInput(
            f"Tickets of {community.name} are linked: unlink them first.", field="community"
        )
    deleted, _ = IncidentCommunity.objects.filter(incident=incident, community=community).delete()
    if deleted:
        record(
            incident, EntryKind.COMMUNITY, f"{community.name} no longer affected", actor=actor,
            community_id=community.pk, removed=True,
        )  # fmt: skip
    return incident


@transaction.atomic
def incident_component_set(
    *, incident: Incident | int, component: Component, degree: str | None, actor: User
) -> Incident:
    """Mark a component affected (degraded, partial or major outage), or no longer (None)."""
    if degree is not None and degree not in Degree.values:
        raise InvalidIncidentInput(f"Unknown degree {degree!r}.", field="degree")
    incident = locked(incident)
    refuse_if_closed(incident)
    current = IncidentComponent.objects.filter(incident=incident, component=component).first()
    if degree is None:
        if current is None:
            return incident
        current.delete()
        text = f"{component}: operational"
    else:
        if current is not None and current.degree == degree:
            return incident
        IncidentComponent.objects.update_or_create(
            incident=incident, component=component, defaults={"degree": degree}
        )
        text = f"{component}: {Degree(degree).label.lower()}"
    record(
        incident, EntryKind.COMPONENT, text, actor=actor, public=True,
        component_id=component.pk, degree=degree,
    )  # fmt: skip
    return incident


@transaction.atomic
def incident_ticket_link(*, incident: Incident | int, ticket: Ticket, actor: User) -> Incident:
    """Link a ticket (its community becomes affected): every later update is replied on it."""
    incident = locked(incident)
    refuse_if_closed(incident)
    _link_ticket(incident, ticket, actor)
    return incident


@transaction.atomic
def incident_ticket_unlink(*, incident: Incident | int, ticket: Ticket, actor: User) -> Incident:
    incident = locked(incident)
    refuse_if_closed(incident)
    deleted, _ = IncidentTicket.objects.filter(incident=incident, ticket=ticket).delete()
    if deleted:
        record(
            incident, EntryKind.TICKET, f"Unlinked {ticket.reference}", actor=actor,
            ticket_id=ticket.pk, removed=True,
        )  # fmt: skip
    return incident


@transaction.atomic
def incident_note_add(
    *,
    incident: Incident | int,
    actor: User,
    text: str,
    at: datetime | None = None,
    public: bool = False,
) -> TimelineEntry:
    """A note on the timeline; its time can be set (not in the future) to reconstruct what
    happened. Internal unless `public`."""
    text = (text or "").strip()
    if not text:
        raise InvalidIncidentInput("Write the note.", field="text")
    now = timezone.now()
    if at is not None and at > now + timedelta(minutes=1):
        raise TimesOutOfOrder("A note's time cannot be in the future.", field="at")
    incident = locked(incident)
    return record(incident, EntryKind.NOTE, text, actor=actor, public=public, at=at or now)
