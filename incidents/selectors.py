"""Reads of incidents, and their tenancy rule: staff see every incident; anyone else sees
only incidents that affect one of their communities, only the public timeline entries, and
among the affected communities only their own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Case, IntegerField, Prefetch, Q, QuerySet, Value, When
from django.utils import timezone

from communities.models import Community
from communities.selectors import member_community_ids
from core.models import User
from incidents.messages import for_reader
from incidents.models import (
    ActionItem,
    ActionStatus,
    Incident,
    IncidentCommunity,
    StatusUpdate,
    TimelineEntry,
    UpdateTemplate,
)
from incidents.states import ACTIVE


def _is_staff(user: User) -> bool:
    return bool(user.is_active and user.is_staff)


def incident_scope(user: User) -> QuerySet[Incident]:
    incidents = Incident.objects.all()
    if _is_staff(user):
        return incidents
    return incidents.filter(
        pk__in=IncidentCommunity.objects.filter(community_id__in=member_community_ids(user)).values(
            "incident_id"
        )
    )


def parse_reference(reference: str) -> int | None:
    value = (reference or "").strip().upper().removeprefix("INC-")
    return int(value) if value.isdigit() and len(value) < 12 else None


def incident_get(*, user: User, reference: str | int) -> Incident | None:
    pk = reference if isinstance(reference, int) else parse_reference(reference)
    if pk is None:
        return None
    return (
        incident_scope(user)
        .select_related("commander", "technical_lead", "communications_lead", "declared_by")
        .filter(pk=pk)
        .first()
    )


def active_first(incidents: QuerySet[Incident]) -> QuerySet[Incident]:
    return incidents.annotate(
        active_rank=Case(
            When(status__in=list(ACTIVE), then=Value(0)),
            default=Value(1),
            output_field=IntegerField(),
        )
    ).order_by("active_rank", "-declared_at", "-id")


def incident_list(user: User) -> QuerySet[Incident]:
    """Active first, then newest; with what a list shows."""
    return active_first(incident_scope(user)).select_related("commander", "communications_lead")


def timeline(*, user: User, incident: Incident) -> QuerySet[TimelineEntry]:
    entries = TimelineEntry.objects.filter(incident=incident).select_related("actor")
    if not _is_staff(user):
        entries = entries.filter(public=True)
    return entries.order_by("at", "id")


def affected_communities(*, user: User, incident: Incident) -> list[Community]:
    links = IncidentCommunity.objects.filter(incident=incident).select_related("community")
    if not _is_staff(user):
        links = links.filter(community_id__in=member_community_ids(user))
    return [link.community for link in links]


def viewer_community(*, user: User, incident: Incident) -> Community | None:
    """The community through which a non-staff reader sees the incident (for [Customer Name])."""
    found = affected_communities(user=user, incident=incident)
    return found[0] if found and not _is_staff(user) else None


@dataclass(frozen=True)
class Banner:
    incident: Incident
    latest: str
    latest_at: datetime | None
    status: str


def banners(user: User) -> list[Banner]:
    """Active incidents affecting the viewer's communities, each with its latest public
    update as the viewer's community reads it (two queries)."""
    memberships = list(member_community_ids(user))
    if not memberships:
        return []
    links = (
        IncidentCommunity.objects.filter(
            community_id__in=memberships, incident__status__in=list(ACTIVE)
        )
        .select_related("incident", "community")
        .prefetch_related(
            Prefetch(
                "incident__updates",
                queryset=StatusUpdate.objects.order_by("-created_at", "-id"),
                to_attr="recent",
            )
        )
        .order_by("-incident__declared_at")
    )
    seen: set[int] = set()
    out = []
    for link in links:
        incident = link.incident
        if incident.pk in seen:
            continue
        seen.add(incident.pk)
        latest = incident.recent[0] if incident.recent else None  # type: ignore[attr-defined]
        out.append(
            Banner(
                incident=incident,
                latest=for_reader(latest.body, link.community.name) if latest else "",
                latest_at=latest.created_at if latest else None,
                status=incident.get_status_display(),
            )
        )
    return out


def community_incidents(*, community: Community) -> QuerySet[Incident]:
    return Incident.objects.filter(affected__community=community).order_by("-declared_at", "-id")


def templates_offered() -> list[UpdateTemplate]:
    return list(UpdateTemplate.objects.filter(active=True).order_by("position", "name"))


def my_action_items(user: User) -> QuerySet[ActionItem]:
    return (
        ActionItem.objects.filter(owner=user)
        .select_related("incident", "ticket")
        .order_by(
            Case(
                When(status__in=[ActionStatus.OPEN, ActionStatus.IN_PROGRESS], then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            ),
            "due_date",
            "id",
        )
    )


def overdue(incident: Incident, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    return bool(
        incident.status in ACTIVE
        and incident.next_update_due_at is not None
        and incident.next_update_due_at <= now
    )


def incidents_for_ticket(ticket_id: int) -> QuerySet[Incident]:
    return Incident.objects.filter(ticket_links__ticket_id=ticket_id).order_by("-declared_at")


__all__ = ["Q", "incident_scope"]
