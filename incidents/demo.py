"""Demo incidents data, run by `manage.py seed_demo` (DEMO_SEEDERS). Idempotent.

- Services and components the incidents name (the hub's API, the portal, the pipeline).
- Each seed 001 plan's maintenance allowance (§2.1: 4-hour weekly … 10-hour monthly).
- Last month: a resolved SEV1 outage of the hub API for Aurora Climate Hub and Kestrel
  Genomics (mitigated after 75 min, resolved after 2 h 10 min: Aurora's Premium 99.9 % is
  missed, a 100 % credit; Kestrel's Enterprise 99.99 % too, 200 %), with its updates, a published postmortem and action items
  (one done, one deferred with a reason), closed; and a planned maintenance for Open Tides
  within its allowance (not downtime).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.utils import timezone

from communities.models import Community, ServicePlan
from core.models import User
from incidents.defaults import defaults_ensure
from incidents.models import (
    AllowancePeriod,
    Component,
    EntryKind,
    Incident,
    MaintenanceAllowance,
    Postmortem,
    Service,
    StatusUpdate,
    TimelineEntry,
)
from incidents.services.lifecycle import (
    incident_assign_role,
    incident_change,
    incident_component_set,
    incident_declare,
    incident_note_add,
    incident_transition,
)
from incidents.services.postmortems import action_item_add, action_item_change, postmortem_save
from incidents.services.updates import incident_update_post
from incidents.uptime import parse_allowance

SERVICES = {
    "Hub API": ["REST API", "Webhooks"],
    "Portal": ["Web app", "Sign-in"],
    "Data pipeline": ["Ingest", "Exports"],
}

OUTAGE_KEY = "demo:hub-api-outage"
MAINTENANCE_KEY = "demo:tides-maintenance"


def seed() -> None:
    defaults_ensure()
    components = _services()
    _allowances()
    agents = {u.email: u for u in User.objects.filter(email__startswith="agent", is_staff=True)}
    if len(agents) < 3:
        return
    _outage(agents, components)
    _maintenance(agents)


def _services() -> dict[str, Component]:
    found: dict[str, Component] = {}
    for position, (name, parts) in enumerate(SERVICES.items()):
        service, _ = Service.objects.get_or_create(name=name, defaults={"position": position})
        for part in parts:
            component, _ = Component.objects.get_or_create(service=service, name=part)
            found[part] = component
    return found


def _allowances() -> None:
    for plan in ServicePlan.objects.all():
        minutes, period = parse_allowance(plan.maintenance_window)
        if minutes:
            MaintenanceAllowance.objects.get_or_create(
                plan=plan,
                defaults={"minutes": minutes, "period": AllowancePeriod(period)},
            )


def _last_month(day: int, hour: int, minute: int = 0) -> datetime:
    first = timezone.now().astimezone(UTC).date().replace(day=1)
    previous = (first - timedelta(days=1)).replace(day=day)
    return datetime(previous.year, previous.month, previous.day, hour, minute, tzinfo=UTC)


def _outage(agents: dict[str, User], components: dict[str, Component]) -> None:
    if Incident.objects.filter(key=OUTAGE_KEY).exists():
        return
    communities = list(Community.objects.filter(slug__in=["aurora", "kestrel"]))
    if not communities:
        return
    commander, lead, comms = (
        agents["agent3@example.com"],
        agents["agent4@example.com"],
        agents["agent2@example.com"],
    )
    start = _last_month(12, 8, 40)
    detected = start + timedelta(minutes=6)
    # Planned work does not page; it becomes an outage right after (the page is history).
    incident = incident_declare(
        actor=commander, title="Hub API returns 503 for every request", severity="SEV1",
        summary="The API's connection pool to the primary database is exhausted.",
        communities=communities, impact_started_at=start, detected_at=detected,
        maintenance=True, key=OUTAGE_KEY,
    )  # fmt: skip
    incident_change(incident=incident, actor=commander, maintenance=False)
    incident_assign_role(incident=incident, role="technical_lead", user=lead, actor=commander)
    incident_assign_role(incident=incident, role="communications_lead", user=comms, actor=commander)
    incident_component_set(
        incident=incident, component=components["REST API"], degree="major_outage", actor=commander
    )
    incident_component_set(
        incident=incident,
        component=components["Webhooks"],
        degree="partial_outage",
        actor=commander,
    )
    incident_note_add(
        incident=incident, actor=lead, text="Alert: API error rate above 50 % for 5 minutes.",
        at=start + timedelta(minutes=5),
    )  # fmt: skip
    steps = [
        (12, "investigating", "Dear [Customer Name], we are experiencing a SEV1 (P1) service incident affecting the Hub API: every request fails with 503. We are investigating and will update you every 30 minutes."),
        (40, "identified", "We have identified the cause: the API's database connections are exhausted after a configuration change. We are rolling it back."),
        (75, "monitoring", "The rollback is complete and requests succeed again. We are monitoring error rates."),
        (130, "resolved", "Dear [Customer Name], the service incident affecting the Hub API has been resolved. Duration: 2 h 10 min. Root cause: a connection-pool setting lowered by a configuration change. We have added a check that refuses such changes. If you experience any issues, please contact us immediately."),
    ]  # fmt: skip
    for minutes, status, body in steps:
        update = incident_update_post(incident=incident, actor=comms, body=body, status=status)
        when = start + timedelta(minutes=minutes)
        StatusUpdate.objects.filter(pk=update.pk).update(created_at=when, fanout_done_at=when)
        TimelineEntry.objects.filter(
            incident=incident,
            kind__in=[EntryKind.UPDATE, EntryKind.STATUS],
            at__gte=update.created_at,
        ).update(at=when, created_at=when)
    resolved = start + timedelta(minutes=130)
    Incident.objects.filter(pk=incident.pk).update(
        declared_at=detected, first_public_update_at=start + timedelta(minutes=12),
        first_update_due_at=detected + timedelta(minutes=15), mitigated_at=start + timedelta(minutes=75),
        resolved_at=resolved, postmortem_due_at=resolved + timedelta(hours=24), next_update_due_at=None,
    )  # fmt: skip
    TimelineEntry.objects.filter(incident=incident, at__gt=resolved).exclude(
        kind__in=[EntryKind.UPDATE, EntryKind.STATUS]
    ).update(at=detected, created_at=detected)
    incident.refresh_from_db()
    incident_transition(incident=incident, to="postmortem", actor=commander)
    postmortem_save(
        incident=incident, actor=commander,
        summary="For 2 h 10 min every Hub API request failed with 503.",
        impact="Aurora Climate Hub and Kestrel Genomics could not reach the API; webhooks were delayed.",
        root_cause="A configuration change lowered the API's database connection pool from 50 to 5.",
        contributing_factors="The change was reviewed as a performance tweak; no alert on pool saturation.",
        went_well="Detected in 6 minutes; the first public update went out within 15 minutes.",
        went_badly="The rollback took 35 minutes because the previous configuration was not tagged.",
    )  # fmt: skip
    done = action_item_add(
        incident=incident,
        actor=commander,
        title="Alert on connection-pool saturation",
        owner=lead,
        due_date=timezone.localdate(),
    )
    action_item_change(item=done, actor=lead, status="done")
    later = action_item_add(
        incident=incident,
        actor=commander,
        title="Refuse pool settings below 20 in configuration review",
        owner=commander,
        due_date=timezone.localdate() + timedelta(days=30),
    )
    action_item_change(
        item=later,
        actor=commander,
        status="deferred",
        deferred_reason="Part of next quarter's configuration-validation work.",
    )
    incident_transition(incident=incident, to="closed", actor=commander)
    Postmortem.objects.filter(incident=incident).update(published_at=resolved + timedelta(hours=20))
    Incident.objects.filter(pk=incident.pk).update(closed_at=resolved + timedelta(hours=20))
    TimelineEntry.objects.filter(incident=incident, at__gt=resolved + timedelta(hours=1)).update(
        at=resolved + timedelta(hours=20)
    )


def _maintenance(agents: dict[str, User]) -> None:
    if Incident.objects.filter(key=MAINTENANCE_KEY).exists():
        return
    community = Community.objects.filter(slug="open-tides").first()
    if community is None:
        return
    commander = agents["agent4@example.com"]
    start = _last_month(20, 2)
    incident = incident_declare(
        actor=commander, title="Planned database upgrade", severity="SEV4",
        communities=[community], impact_started_at=start, detected_at=start, maintenance=True,
        key=MAINTENANCE_KEY,
    )  # fmt: skip
    incident_update_post(
        incident=incident, actor=commander, status="resolved",
        body="The planned database upgrade is complete (3 hours, within the plan's weekly maintenance window).",
    )  # fmt: skip
    end = start + timedelta(hours=3)
    Incident.objects.filter(pk=incident.pk).update(
        declared_at=start, resolved_at=end, mitigated_at=end
    )
    StatusUpdate.objects.filter(incident=incident).update(created_at=end, fanout_done_at=end)
    TimelineEntry.objects.filter(incident=incident).update(at=start, created_at=start)
    TimelineEntry.objects.filter(
        incident=incident, kind__in=[EntryKind.UPDATE, EntryKind.STATUS], text__in=["Resolved"]
    ).update(at=end)
    TimelineEntry.objects.filter(incident=incident, kind=EntryKind.UPDATE).update(at=end)
    incident.refresh_from_db()
    incident_transition(incident=incident, to="closed", actor=commander)
