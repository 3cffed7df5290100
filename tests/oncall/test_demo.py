"""The demo: seed 002's 24x7 Primary and Backup with 7-day rotations over the demo agents,
seed 003's weekly Engineering schedule, and one override."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from incidents.oncall.models import Layer, Override, Schedule
from incidents.oncall.selectors import on_call, shifts

pytestmark = pytest.mark.django_db

AGENTS = ["agent1@example.com", "agent2@example.com", "agent3@example.com", "agent4@example.com"]


def test_the_demo_has_primary_backup_and_engineering_schedules():
    call_command("seed_demo")
    call_command("seed_demo")

    assert list(Schedule.objects.order_by("name").values_list("name", "time_zone", "backup_of__name")) == [
        ("Backup", "Europe/Berlin", "Primary"),
        ("Engineering", "Europe/Oslo", None),
        ("Primary", "Europe/Berlin", None),
    ]  # fmt: skip
    orders = {
        layer.schedule.name: (layer.kind, layer.handoff_weekday, layer.handoff_time.hour,
                              [p.user.email for p in layer.participants.order_by("position")])
        for layer in Layer.objects.select_related("schedule")
    }  # fmt: skip
    assert orders == {
        "Primary": ("weekly", 0, 9, AGENTS),
        "Backup": ("weekly", 0, 9, AGENTS[2:] + AGENTS[:2]),
        "Engineering": ("weekly", 0, 0, AGENTS[2:]),
    }
    primary, backup = Schedule.objects.get(name="Primary"), Schedule.objects.get(name="Backup")
    now = timezone.now()
    first = shifts(primary, now, now + timedelta(weeks=8))
    second = shifts(backup, now, now + timedelta(weeks=8))
    # Someone is always on call, and never the same person on both.
    assert first[0].start == now
    assert first[-1].end == now + timedelta(weeks=8)
    for shift in first:
        for instant in (shift.start, shift.end - timedelta(seconds=1)):
            assert on_call(backup, instant) not in (None, shift.user)
    assert second[0].start == now
    override = Override.objects.get()
    assert override.schedule == primary
    assert override.user.email in AGENTS[:2]
    assert override.end - override.start == timedelta(hours=4)
    assert on_call(primary, override.start) == override.user
    engineer = on_call(Schedule.objects.get(name="Engineering"), now)
    assert engineer is not None
    assert engineer.email in AGENTS[2:]
