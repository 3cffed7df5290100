"""The paging demo: seed 001's hierarchy and seed 002's chain as policies and routes, made
once however often the demo is seeded; and the critical demo ticket, once routed, pages the
on-call engineer, whose one-click link stops the escalation."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from core.models import Event
from incidents.notify.models import Notification
from incidents.oncall.models import Override, Schedule
from incidents.oncall.selectors import on_call
from incidents.paging import demo
from incidents.paging.models import (
    EscalationPolicy,
    EscalationStep,
    MaintenanceWindow,
    Page,
    PolicyRoute,
)
from routing.models import Team
from supportdesk.management.commands import seed_demo

pytestmark = pytest.mark.django_db


def _everything() -> dict[str, list[Any]]:
    return {
        "policies": sorted(EscalationPolicy.objects.values_list("name", flat=True)),
        "steps": sorted(EscalationStep.objects.values_list("policy__name", "position", "kind")),
        "routes": sorted(
            PolicyRoute.objects.values_list("cause", "severity", "policy__name", "position")
        ),
        "windows": list(MaintenanceWindow.objects.values_list("service", "reason")),
        "teams": list(Team.objects.filter(name="Engineering").values_list("name", flat=True)),
    }


def _ensure_schedules() -> None:
    """Primary and Backup with someone on call now and for the next hour, when the on-call
    demo has not made them."""
    from core.models import User

    now = timezone.now()
    for name, email in (("Primary", "agent1@example.com"), ("Backup", "agent2@example.com")):
        schedule, created = Schedule.objects.get_or_create(name=name)
        if created:
            Override.objects.create(
                schedule=schedule, user=User.objects.get(email=email),
                start=now - timedelta(hours=1), end=now + timedelta(hours=2),
            )  # fmt: skip


def test_seeding_twice_makes_the_policies_routes_and_window_once(monkeypatch):
    call_command("seed_demo")
    _ensure_schedules()
    call_command("seed_demo")  # the critical policy, now that its schedules exist
    first = _everything()
    call_command("seed_demo")

    assert _everything() == first
    assert first["policies"] == sorted([demo.CRITICAL, demo.HIGH, demo.MEDIUM, demo.LOW])
    critical = [(p, k) for name, p, k in first["steps"] if name == demo.CRITICAL]
    assert critical == [
        (1, "notify_on_call"), (2, "wait"), (3, "notify_on_call"), (4, "wait"),
        (5, "notify_users"), (6, "wait"), (7, "repeat"),
    ]  # fmt: skip
    policy = EscalationPolicy.objects.get(name=demo.CRITICAL)
    steps = list(policy.steps.select_related("schedule").prefetch_related("users"))
    assert [s.schedule.name for s in steps if s.schedule] == ["Primary", "Backup"]
    assert [u.email for u in steps[4].users.all()] == [demo.TEAM_LEAD]
    assert (steps[6].repeat_from, steps[6].repeat_times) == (1, 2)
    assert [s.wait_minutes for s in steps if s.kind == "wait"] == [5, 5, 5]
    assert all(s.important for s in steps if s.notifies)
    assert policy.fallback_team is not None
    assert policy.fallback_team.name == "Engineering"
    assert policy.reminder_minutes == 30
    routes = {(c, s): name for c, s, name, _ in first["routes"]}
    assert routes == {
        ("critical_ticket", ""): demo.CRITICAL,
        **{
            (cause, "critical"): demo.CRITICAL
            for cause in ("sla_breach", "incident", "integration")
        },
        **{(cause, "high"): demo.HIGH for cause in ("sla_breach", "incident", "integration")},
        **{(cause, "medium"): demo.MEDIUM for cause in ("sla_breach", "incident", "integration")},
        **{(cause, "low"): demo.LOW for cause in ("sla_breach", "incident", "integration")},
    }
    high = EscalationPolicy.objects.get(name=demo.HIGH).steps.get()
    assert (high.kind, high.important, [u.email for u in high.users.all()]) == (
        "notify_users", True, [demo.ENGINEERING_LEAD],
    )  # fmt: skip
    medium = EscalationPolicy.objects.get(name=demo.MEDIUM).steps.get()
    assert (medium.important, [u.email for u in medium.users.all()]) == (False, [demo.TEAM_LEAD])
    window = MaintenanceWindow.objects.get()
    assert window.ends_at < timezone.now()


def test_without_the_on_call_schedules_nothing_that_needs_them_is_made(monkeypatch):
    monkeypatch.setattr(
        seed_demo, "DEMO_SEEDERS", [s for s in seed_demo.DEMO_SEEDERS if "oncall" not in s]
    )
    call_command("seed_demo")

    assert not Schedule.objects.exists()
    assert sorted(EscalationPolicy.objects.values_list("name", flat=True)) == sorted(
        [demo.HIGH, demo.MEDIUM, demo.LOW]
    )
    assert not PolicyRoute.objects.filter(severity__in=["critical", ""]).exists()

    _ensure_schedules()
    call_command("seed_demo")

    assert EscalationPolicy.objects.filter(name=demo.CRITICAL).exists()
    assert PolicyRoute.objects.get(cause="critical_ticket").policy.name == demo.CRITICAL


def _run(name: str) -> None:
    """Run the reactions to the events called `name`, as the workers would."""
    from django.utils.module_loading import import_string

    from supportdesk.events import REACTIONS

    for event in Event.objects.filter(name=name).order_by("pk"):
        for reaction in REACTIONS:
            if reaction.event == name and reaction.handler.startswith(("routing.", "incidents.")):
                import_string(reaction.handler)(event=event)


def test_the_critical_demo_ticket_pages_the_on_call_engineer_and_the_link_stops_it(client):
    call_command("seed_demo")
    _ensure_schedules()
    call_command("seed_demo")
    primary = Schedule.objects.get(name="Primary")
    engineer = on_call(primary, timezone.now())
    assert engineer is not None

    _run("ticket.opened")  # routing: the JupyterHub ticket is critical
    _run("ticket.critical")  # paging

    page = Page.objects.get(cause="critical_ticket")
    assert page.ticket is not None
    assert page.ticket.subject == "JupyterHub down: users get 503 on login"
    assert page.policy is not None
    assert (page.policy.name, page.state, page.step_index) == (demo.CRITICAL, "triggered", 2)
    notification = Notification.objects.get(source="page", source_id=page.pk)
    assert (notification.recipient, notification.importance) == (engineer, "important")
    assert sorted(notification.deliveries.values_list("channel", flat=True))[0] == "desk"
    assert "email" in set(notification.deliveries.values_list("channel", flat=True))

    link = dict(notification.actions)["Acknowledge"]  # [label, url] pairs, in order
    path = re.sub(r"^https?://[^/]+", "", link)
    assert client.post(path).status_code == 200

    page.refresh_from_db()
    assert (page.state, page.acknowledged_by, page.next_escalation_at) == (
        "acknowledged", engineer, None,
    )  # fmt: skip
    assert page.events.filter(kind="acknowledged", via="link").count() == 1
