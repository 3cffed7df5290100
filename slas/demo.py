"""Demo SLA set-up: business calendars and a plan x severity grid of policies.

Run by `manage.py seed_demo` (DEMO_SEEDERS) after the plans and communities exist and before
the demo tickets are opened, so that those tickets' clocks arm as they open. Idempotent.

- Seed 004: a working day is a continuous 24-hour period, Monday to Friday. That calendar
  (in UTC) is the default and every plan's, and the catch-all policy acknowledges a request
  within one working day.
- Seed 001 §2.2: first response and resolution per severity (P1 15 min / 4 h, P2 1 h / 8 h,
  P3 4 h / 24 h, P4 8 h / 72 h), for every plan.
- Seed 000: critical issues run around the clock ("Critical: < 1 hour (24/7)"): P1 targets
  count every hour and their warnings go out at any hour; the rest count business hours.
- Next update (our choice, seed 001 §4.3.1's status update an hour into a P1): P1 1 h,
  P2 4 h, P3 24 h, P4 48 h.
- The American, European and Asian demo communities have office calendars of their own
  (seed 000: 9 AM - 5 PM Pacific, Monday to Friday); Meridian Schools keeps its plan's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time

from communities.models import Community, ServicePlan
from slas.models import BusinessCalendar, CommunityCalendar, PlanCalendar, SLAPolicy
from slas.services.calendars import (
    HolidaySpec,
    IntervalSpec,
    business_calendar_save,
    community_calendar_set,
    plan_calendar_set,
)
from slas.services.policies import sla_policy_create
from tickets.models import Severity

WEEKDAYS = range(5)
WORKING_DAY = "Working day (Mon-Fri, 24 h, UTC)"


@dataclass(frozen=True)
class CalendarSeed:
    name: str
    time_zone: str
    intervals: list[IntervalSpec]
    holidays: list[HolidaySpec]
    is_default: bool = False
    description: str = ""


def _office(start: time, end: time) -> list[IntervalSpec]:
    return [IntervalSpec(day, start, end) for day in WEEKDAYS]


def _yearly(*days: tuple[int, int, str]) -> list[HolidaySpec]:
    return [HolidaySpec(date(2024, month, day), name, yearly=True) for month, day, name in days]


CALENDARS = [
    CalendarSeed(
        WORKING_DAY, "UTC", [IntervalSpec(day, time(0), time(0), True) for day in WEEKDAYS], [],
        is_default=True,
        description="Seed 004: a working day is a continuous 24-hour period from Monday "
        "through Friday (a team and communities spread over many time zones).",
    ),
    CalendarSeed(
        "Europe office (Berlin)", "Europe/Berlin", _office(time(9), time(17)),
        _yearly((1, 1, "New Year's Day"), (5, 1, "Labour Day"), (10, 3, "German Unity Day"),
                (12, 25, "Christmas Day"), (12, 26, "Boxing Day")),
    ),
    CalendarSeed(
        "Americas office (Los Angeles)", "America/Los_Angeles", _office(time(9), time(17)),
        _yearly((1, 1, "New Year's Day"), (7, 4, "Independence Day"), (12, 25, "Christmas Day")),
        description="Seed 000: business hours 9 AM - 5 PM Pacific, Monday to Friday.",
    ),
    CalendarSeed(
        "Asia office (Singapore)", "Asia/Singapore", _office(time(9), time(18)),
        _yearly((1, 1, "New Year's Day"), (8, 9, "National Day"), (12, 25, "Christmas Day")),
    ),
]  # fmt: skip

COMMUNITY_CALENDARS = {
    "aurora": "Europe office (Berlin)",
    "open-tides": "Americas office (Los Angeles)",
    "kestrel": "Asia office (Singapore)",
}

# severity: (first response, next update, resolution) in minutes; seed 001 §2.2
TARGETS = {
    Severity.CRITICAL: (15, 60, 4 * 60),
    Severity.HIGH: (60, 4 * 60, 8 * 60),
    Severity.MEDIUM: (4 * 60, 24 * 60, 24 * 60),
    Severity.LOW: (8 * 60, 48 * 60, 72 * 60),
}
SEVERITY_ORDER = list(TARGETS)


def seed() -> None:
    calendars = {spec.name: _calendar(spec) for spec in CALENDARS}
    for plan in ServicePlan.objects.all():
        if not PlanCalendar.objects.filter(plan=plan).exists():
            plan_calendar_set(plan=plan, calendar=calendars[WORKING_DAY])
    for slug, name in COMMUNITY_CALENDARS.items():
        community = Community.objects.filter(slug=slug).first()
        if community and not CommunityCalendar.objects.filter(community=community).exists():
            community_calendar_set(community=community, calendar=calendars[name])
    for plan in ServicePlan.objects.order_by("position", "name"):
        for index, severity in enumerate(SEVERITY_ORDER):
            _policy_grid_cell(plan, severity, position=plan.position * 10 + index)
    if not SLAPolicy.objects.filter(name="Any other request").exists():
        sla_policy_create(
            name="Any other request",
            position=1000,
            first_response_minutes=24 * 60,  # seed 004: acknowledged within one working day
            warn_percent=75,
        )


def _calendar(spec: CalendarSeed) -> BusinessCalendar:
    existing = BusinessCalendar.objects.filter(name=spec.name).first()
    if existing is not None:
        return existing
    return business_calendar_save(
        name=spec.name,
        time_zone=spec.time_zone,
        intervals=spec.intervals,
        holidays=spec.holidays,
        is_default=spec.is_default,
        description=spec.description,
    )


def _policy_grid_cell(plan: ServicePlan, severity: Severity, *, position: int) -> None:
    name = f"{plan.name} · {severity.label}"
    if SLAPolicy.objects.filter(name=name).exists():
        return
    first, update, resolution = TARGETS[severity]
    around_the_clock = severity == Severity.CRITICAL
    sla_policy_create(
        name=name,
        position=position,
        service_plan=plan,
        severity=severity,
        first_response_minutes=first,
        first_response_business=not around_the_clock,
        next_update_minutes=update,
        next_update_business=not around_the_clock,
        resolution_minutes=resolution,
        resolution_business=not around_the_clock,
        warn_percent=75,
        notify_around_the_clock=around_the_clock,
        pause_when_pending=True,
    )
