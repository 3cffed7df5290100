"""Every write to business calendars: their hours, their holidays (by hand or from an
iCalendar file), and which plan or community runs on which."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

from django.db import transaction
from icalendar import Calendar as ICalendar
from icalendar import Component

from core.services import model_update
from slas.business_time import Interval, Schedule, ScheduleInvalid
from slas.errors import CalendarInvalid, HolidayFileInvalid
from slas.models import BusinessCalendar, CommunityCalendar, Holiday, PlanCalendar, WorkingInterval

if TYPE_CHECKING:
    from communities.models import Community, ServicePlan
    from core.models import User

# An all-day event longer than this in a holiday file is a mistake, not a holiday.
MAX_HOLIDAY_DAYS = 31
MAX_HOLIDAY_FILE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class IntervalSpec:
    weekday: int
    start: time
    end: time
    ends_next_day: bool = False


@dataclass(frozen=True)
class HolidaySpec:
    day: date
    name: str = ""
    yearly: bool = False
    active: bool = True


def schedule_check(
    *, time_zone: str, around_the_clock: bool, intervals: Sequence[IntervalSpec]
) -> Schedule:
    """The schedule these settings make, or CalendarInvalid (overlapping intervals, an end
    before its start that does not cross midnight, an unknown time zone, no working time)."""
    try:
        return Schedule(
            time_zone=time_zone,
            intervals=tuple(
                Interval(i.weekday, i.start, i.end, i.ends_next_day) for i in intervals
            ),
            around_the_clock=around_the_clock,
        )
    except ScheduleInvalid as exc:
        raise CalendarInvalid.from_schedule(exc) from exc


CALENDAR_FIELDS = ("name", "time_zone", "around_the_clock", "is_default", "description")


def business_calendar_save(
    *,
    calendar: BusinessCalendar | None = None,
    name: str,
    time_zone: str,
    intervals: Sequence[IntervalSpec],
    around_the_clock: bool = False,
    is_default: bool = False,
    description: str = "",
    holidays: Sequence[HolidaySpec] | None = None,
    actor: User | None = None,
) -> BusinessCalendar:
    """Create a calendar, or change one, with its weekly hours (and, when given, its
    holidays) as a whole. A calendar with no working time is refused. Running clocks keep
    their due times until something recomputes them (a pause, a severity change)."""
    schedule_check(time_zone=time_zone, around_the_clock=around_the_clock, intervals=intervals)
    data = {
        "name": name.strip(),
        "time_zone": time_zone,
        "around_the_clock": around_the_clock,
        "is_default": is_default,
        "description": description,
    }
    with transaction.atomic():
        if is_default:
            others = BusinessCalendar.objects.filter(is_default=True)
            if calendar is not None:
                others = others.exclude(pk=calendar.pk)
            for other in others.select_for_update():
                other._history_user = actor  # type: ignore[attr-defined]
                other.is_default = False
                other.save(update_fields=["is_default"])
        if calendar is None:
            calendar = BusinessCalendar(**data)
            calendar.full_clean()
            calendar._history_user = actor  # type: ignore[attr-defined]
            calendar.save()
        else:
            calendar = BusinessCalendar.objects.select_for_update().get(pk=calendar.pk)
            calendar._history_user = actor  # type: ignore[attr-defined]
            calendar, _ = model_update(instance=calendar, fields=CALENDAR_FIELDS, data=data)
        _intervals_replace(calendar=calendar, intervals=intervals, actor=actor)
        if holidays is not None:
            _holidays_replace(calendar=calendar, holidays=holidays, actor=actor)
    return calendar


def _intervals_replace(
    *, calendar: BusinessCalendar, intervals: Sequence[IntervalSpec], actor: User | None
) -> None:
    wanted = {(i.weekday, i.start, i.end, i.ends_next_day) for i in intervals}
    for row in WorkingInterval.objects.filter(calendar=calendar):
        key = (row.weekday, row.start, row.end, row.ends_next_day)
        if key in wanted:
            wanted.discard(key)
        else:
            row._history_user = actor  # type: ignore[attr-defined]
            row.delete()
    for weekday, start, end, ends_next_day in sorted(wanted):
        row = WorkingInterval(
            calendar=calendar, weekday=weekday, start=start, end=end, ends_next_day=ends_next_day
        )
        row._history_user = actor  # type: ignore[attr-defined]
        row.save()


def _holidays_replace(
    *, calendar: BusinessCalendar, holidays: Sequence[HolidaySpec], actor: User | None
) -> None:
    wanted = {(h.day, h.name.strip()): h for h in holidays}
    for row in Holiday.objects.filter(calendar=calendar):
        spec = wanted.pop((row.day, row.name), None)
        row._history_user = actor  # type: ignore[attr-defined]
        if spec is None:
            row.delete()
        elif (row.yearly, row.active) != (spec.yearly, spec.active):
            row.yearly, row.active = spec.yearly, spec.active
            row.save(update_fields=["yearly", "active"])
    for (day, name), spec in sorted(wanted.items()):
        row = Holiday(calendar=calendar, day=day, name=name, yearly=spec.yearly, active=spec.active)
        row._history_user = actor  # type: ignore[attr-defined]
        row.save()


def holiday_set_active(*, holiday: Holiday, active: bool, actor: User | None = None) -> Holiday:
    """Switch one holiday off (the desk works that day after all) or on again."""
    holiday._history_user = actor  # type: ignore[attr-defined]
    holiday, _ = model_update(instance=holiday, fields=("active",), data={"active": active})
    return holiday


def parse_ics_holidays(data: bytes) -> list[HolidaySpec]:
    """The all-day events of an iCalendar file as holidays (a yearly RRULE makes a yearly
    holiday; an event over several days gives one holiday per day). HolidayFileInvalid when
    the file is not iCalendar or holds no usable event."""
    if len(data) > MAX_HOLIDAY_FILE_BYTES:
        raise HolidayFileInvalid("The file is larger than 1 MB.", field="file")
    try:
        parsed = ICalendar.from_ical(data)
        specs: list[HolidaySpec] = []
        for event in parsed.walk("VEVENT"):
            specs += _event_holidays(event)
    except ValueError as exc:  # icalendar's parse errors (InvalidCalendar is one)
        raise HolidayFileInvalid(
            f"This is not a valid iCalendar file: {exc}", field="file"
        ) from exc
    if not specs:
        raise HolidayFileInvalid("The file holds no holidays (all-day events).", field="file")
    return specs


def _event_holidays(event: Component) -> list[HolidaySpec]:
    start_prop = event.get("DTSTART")
    if start_prop is None:
        raise ValueError("an event has no DTSTART")
    start = start_prop.dt
    if isinstance(start, datetime):
        start = start.date()
    if not isinstance(start, date):
        raise ValueError(f"DTSTART {start!r} is not a date")
    end_prop = event.get("DTEND")
    end = end_prop.dt if end_prop is not None else start + timedelta(days=1)
    if isinstance(end, datetime):
        end = end.date() if end.time() == time(0) else end.date() + timedelta(days=1)
    days = max((end - start).days, 1)
    if days > MAX_HOLIDAY_DAYS:
        raise ValueError(f"an event lasts {days} days")
    rule = event.get("RRULE")
    yearly = rule is not None and [str(f).upper() for f in rule.get("FREQ", [])] == ["YEARLY"]
    name = str(event.get("SUMMARY", ""))[:200].strip()
    return [
        HolidaySpec(day=start + timedelta(days=n), name=name, yearly=yearly) for n in range(days)
    ]


def holidays_import(
    *, calendar: BusinessCalendar, data: bytes, actor: User | None = None
) -> list[Holiday]:
    """Add the holidays of an iCalendar file to a calendar; those it has already (same date
    and name) are left as they are, switched off or not. A malformed file changes nothing."""
    specs = parse_ics_holidays(data)
    created = []
    with transaction.atomic():
        existing = set(Holiday.objects.filter(calendar=calendar).values_list("day", "name"))
        for spec in specs:
            if (spec.day, spec.name) in existing:
                continue
            existing.add((spec.day, spec.name))
            holiday = Holiday(calendar=calendar, day=spec.day, name=spec.name, yearly=spec.yearly)
            holiday._history_user = actor  # type: ignore[attr-defined]
            holiday.save()
            created.append(holiday)
    return created


def plan_calendar_set(*, plan: ServicePlan, calendar: BusinessCalendar | None) -> None:
    """Run a plan's clocks on `calendar` (None: the default calendar)."""
    with transaction.atomic():
        if calendar is None:
            PlanCalendar.objects.filter(plan=plan).delete()
        else:
            PlanCalendar.objects.update_or_create(plan=plan, defaults={"calendar": calendar})


def community_calendar_set(*, community: Community, calendar: BusinessCalendar | None) -> None:
    """Give a community a calendar of its own, overriding its plan's (None: the plan's)."""
    with transaction.atomic():
        if calendar is None:
            CommunityCalendar.objects.filter(community=community).delete()
        else:
            CommunityCalendar.objects.update_or_create(
                community=community, defaults={"calendar": calendar}
            )
