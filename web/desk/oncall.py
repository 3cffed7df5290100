"""The desk's side of on-call schedules: the forms of "cover my shift" and the handoff note,
and the calendar grid (web.desk.views.oncall). The reads are incidents.oncall.selectors';
the writes incidents.oncall.services'."""

from __future__ import annotations

import calendar as month_calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django import forms
from django.db.models import QuerySet
from django.urls import reverse

from core.models import User
from incidents.oncall.models import HandoffNote, Schedule
from incidents.oncall.rotation import Shift, local_to_utc
from incidents.oncall.selectors import Calendar
from incidents.paging.selectors import open_pages as paging_open_pages
from web.desk.forms import DeskForm

OPEN_PAGES_SHOWN = 20


def open_pages() -> list[Any]:
    """The `open_pages` hook of the on-call page and the handoff note: pages not resolved
    yet (incidents.paging.selectors.open_pages), open first, newest first."""
    return list(paging_open_pages().exclude(state="resolved")[:OPEN_PAGES_SHOWN])


def instant_param(at: datetime) -> str:
    """An instant for a query string: UTC, with a Z (a + would read as a space)."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def handoff_url(schedule: Schedule, at: datetime) -> str:
    return (
        reverse("desk:oncall_handoff", args=[schedule.pk])
        + "?"
        + urlencode({"at": instant_param(at)})
    )


def cover_url(schedule: Schedule, start: datetime, end: datetime) -> str:
    query = {"schedule": schedule.pk, "start": instant_param(start), "end": instant_param(end)}
    return reverse("desk:oncall_cover") + "?" + urlencode(query)


# ---------------------------------------------------------------- forms


class CoverForm(DeskForm):
    """A person on call hands all or part of a shift to a colleague."""

    id_prefix = "cover"

    schedule = forms.TypedChoiceField(label="Schedule", coerce=int)
    colleague = forms.TypedChoiceField(label="Colleague who covers", coerce=int)
    start = forms.DateTimeField(
        label="From", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    end = forms.DateTimeField(
        label="Until", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    reason = forms.CharField(label="Reason", required=False, max_length=300)

    def __init__(
        self,
        *args: Any,
        schedules: Sequence[Schedule],
        colleagues: Sequence[User],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.schedules = {s.pk: s for s in schedules}
        self.colleagues = {c.pk: c for c in colleagues}
        self.fields["schedule"].choices = [(s.pk, s.name) for s in schedules]  # type: ignore[attr-defined]
        self.fields["colleague"].choices = [("", "Choose a colleague")] + [  # type: ignore[attr-defined]
            (c.pk, c.display_name) for c in colleagues
        ]
        self.fields["start"].help_text = self.fields["end"].help_text = "In your time zone."


class HandoffNoteForm(DeskForm):
    """The seed 002 handoff note template."""

    id_prefix = "handoff"

    active_incidents = forms.CharField(
        label="Active incidents and pages",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=HandoffNote._meta.get_field("active_incidents").help_text,
    )
    pending_issues = forms.CharField(
        label="Pending issues in the queue",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=HandoffNote._meta.get_field("pending_issues").help_text,
    )
    ongoing_situations = forms.CharField(
        label="Ongoing situations",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=HandoffNote._meta.get_field("ongoing_situations").help_text,
    )
    follow_ups = forms.CharField(
        label="Follow-ups for the incoming person",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=HandoffNote._meta.get_field("follow_ups").help_text,
    )


def agents_except(user: User) -> QuerySet[User]:
    return (
        User.objects.filter(is_staff=True, is_active=True)
        .exclude(pk=user.pk)
        .order_by("first_name", "last_name", "email")
    )


# ---------------------------------------------------------------- the calendar grid


@dataclass(frozen=True)
class Piece:
    """The part of a shift that falls on one day, in the schedule's zone: "09:00–17:00",
    "17:00–24:00", or "all day"."""

    who: str
    start: datetime
    end: datetime
    source: str
    layer_name: str
    label: str


@dataclass(frozen=True)
class GridRow:
    label: str
    kind: str  # "layer" | "overrides" | "final"
    days: list[list[Piece]]


@dataclass(frozen=True)
class Week:
    days: list[date]
    rows: list[GridRow]


def _label(start: datetime, end: datetime, low: datetime, high: datetime, zone: ZoneInfo) -> str:
    if start == low and end == high:
        return "all day"
    until = "24:00" if end == high else f"{end.astimezone(zone):%H:%M}"
    return f"{start.astimezone(zone):%H:%M}–{until}"


def _pieces(
    shifts: Sequence[Shift], day_bounds: list[tuple[datetime, datetime]], zone: ZoneInfo
) -> list[list[Piece]]:
    cells: list[list[Piece]] = [[] for _ in day_bounds]
    for shift in shifts:
        for index, (low, high) in enumerate(day_bounds):
            if shift.end <= low or shift.start >= high:
                continue
            start, end = max(shift.start, low), min(shift.end, high)
            cells[index].append(
                Piece(
                    who=shift.user.display_name,
                    start=start,
                    end=end,
                    source=shift.source,
                    layer_name=shift.layer_name,
                    label=_label(start, end, low, high, zone),
                )
            )
    return cells


def calendar_range(view: str, anchor: date) -> tuple[date, date]:
    """The first day (a Monday) and the day after the last (a Monday) the view shows."""
    if view == "month":
        first = anchor.replace(day=1)
        last = anchor.replace(day=month_calendar.monthrange(anchor.year, anchor.month)[1])
        start = first - timedelta(days=first.weekday())
        end = last + timedelta(days=7 - last.weekday())
        return start, end
    start = anchor - timedelta(days=anchor.weekday())
    return start, start + timedelta(days=7)


def day_instants(first: date, last: date, zone: ZoneInfo) -> list[tuple[datetime, datetime]]:
    """Each day's [midnight, next midnight) in the zone, as instants."""
    days = []
    day = first
    while day < last:
        days.append(
            (
                local_to_utc(datetime.combine(day, datetime.min.time()), zone),
                local_to_utc(datetime.combine(day + timedelta(days=1), datetime.min.time()), zone),
            )
        )
        day += timedelta(days=1)
    return days


def calendar_weeks(cal: Calendar, first: date, last: date) -> list[Week]:
    """The calendar as weeks of seven days: a row per layer (highest first), the
    overrides, and the final result."""
    zone = ZoneInfo(cal.schedule.time_zone)
    weeks = []
    day = first
    while day < last:
        days = [day + timedelta(days=n) for n in range(7)]
        bounds = day_instants(days[0], days[-1] + timedelta(days=1), zone)
        rows = [
            GridRow(layer.name, "layer", _pieces(layer.shifts, bounds, zone))
            for layer in cal.layers
        ]
        rows.append(GridRow("Overrides", "overrides", _pieces(cal.overrides, bounds, zone)))
        rows.append(GridRow("On call", "final", _pieces(cal.final, bounds, zone)))
        weeks.append(Week(days, rows))
        day += timedelta(days=7)
    return weeks
