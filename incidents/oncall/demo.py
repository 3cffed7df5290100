"""On-call demo data (seed_demo's DEMO_SEEDERS), run after the demo agents exist.
Idempotent: a schedule that exists is left alone.

- Seed 002: 24x7 primary and backup, 7-day rotations: "Primary" and "Backup" (the backup
  of Primary), weekly on Monday 09:00 Berlin time over the four demo agents, the backup's
  turn order two weeks apart from the primary's so nobody is both at once.
- Seed 003: one engineer on call 24/7, weekly Monday to Sunday, overrides for emergencies:
  "Engineering", weekly on Monday 00:00 (Oslo) over the tier 3 and 4 agents, with one
  override (Lena covers tomorrow evening's primary shift).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

from core.models import User
from incidents.oncall.models import Schedule
from incidents.oncall.rotation import local_to_utc
from incidents.oncall.selectors import on_call
from incidents.oncall.services import layer_save, override_create, schedule_create

AGENTS = ("agent1@example.com", "agent2@example.com", "agent3@example.com", "agent4@example.com")
ENGINEERS = ("agent3@example.com", "agent4@example.com")

# name, time zone, description, backup of, handoff weekday, handoff time, turn order
SCHEDULES = (
    ("Primary", "Europe/Berlin", "Seed 002: 24x7 primary on call, 7-day rotations, "
     "acknowledge within 5 minutes.", None, 0, time(9), AGENTS),
    ("Backup", "Europe/Berlin", "Seed 002: 24x7 backup on call, 7-day rotations; called "
     "when the primary does not answer.", "Primary", 0, time(9), AGENTS[2:] + AGENTS[:2]),
    ("Engineering", "Europe/Oslo", "Seed 003: one engineer on call 24/7, weekly rotation "
     "Monday to Sunday; overrides for emergencies.", None, 0, time(0), ENGINEERS),
)  # fmt: skip


def _rotation_start(zone: ZoneInfo, weekday: int, at: time) -> datetime:
    """The handoff four weeks before this week's, so the demo shows a running rotation."""
    today = timezone.now().astimezone(zone).date()
    day = today - timedelta(days=(today.weekday() - weekday) % 7 + 28)
    return local_to_utc(datetime.combine(day, at), zone)


def seed() -> None:
    people = {u.email: u for u in User.objects.filter(email__in=AGENTS)}
    if len(people) < len(AGENTS):
        return
    created: dict[str, Schedule] = {}
    for name, zone_name, description, backup_of, weekday, at, order in SCHEDULES:
        if Schedule.objects.filter(name=name).exists():
            continue
        schedule = schedule_create(
            name=name,
            time_zone=zone_name,
            description=description,
            backup_of=Schedule.objects.filter(name=backup_of).first() if backup_of else None,
        )
        layer_save(
            schedule=schedule,
            name="24x7 weekly",
            position=0,
            kind="weekly",
            handoff_weekday=weekday,
            handoff_time=at,
            starts_at=_rotation_start(ZoneInfo(zone_name), weekday, at),
            participants=[people[email] for email in order],
        )
        created[name] = schedule
    primary = created.get("Primary")
    if primary is not None:
        zone = ZoneInfo(primary.time_zone)
        tomorrow = timezone.now().astimezone(zone).date() + timedelta(days=1)
        start = local_to_utc(datetime.combine(tomorrow, time(18)), zone)
        end = local_to_utc(datetime.combine(tomorrow, time(22)), zone)
        covered = on_call(primary, start)
        cover = (
            people["agent2@example.com"]
            if covered != people["agent2@example.com"]
            else people["agent1@example.com"]
        )
        override_create(
            schedule=primary,
            user=cover,
            start=start,
            end=end,
            reason=f"Covers {covered.display_name if covered else 'the'} evening shift (demo override).",
        )
