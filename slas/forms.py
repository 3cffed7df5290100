"""Admin forms: calendars with their hours and holidays, holiday import, the preview.

They check what the services check, so that bad input is a form error beside the field and
nothing is saved: overlapping intervals, an end before its start that does not cross
midnight, an unknown time zone, a calendar with no working time, a malformed holiday file.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django.utils import timezone

from communities.models import Community, ServicePlan
from slas.business_time import time_zone as zone_of
from slas.errors import CalendarInvalid, HolidayFileInvalid
from slas.models import BusinessCalendar, Holiday, WorkingInterval
from slas.services.calendars import (
    MAX_HOLIDAY_FILE_BYTES,
    HolidaySpec,
    IntervalSpec,
    parse_ics_holidays,
    schedule_check,
)
from tickets.models import Severity, TicketKind


def _live_forms(formset: BaseInlineFormSet[Any, Any, Any]) -> list[forms.Form]:
    return [
        form
        for form in formset.forms
        if form.cleaned_data and not form.cleaned_data.get("DELETE", False)
    ]


class WorkingIntervalFormSet(BaseInlineFormSet[WorkingInterval, BusinessCalendar, Any]):
    """The week's hours, checked as a whole against the calendar being saved."""

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        calendar = self.instance
        try:
            zone_of(calendar.time_zone)
        except ValueError:
            return  # the calendar's own form says so beside the field
        try:
            schedule_check(
                time_zone=calendar.time_zone,
                around_the_clock=calendar.around_the_clock,
                intervals=self.specs(),
            )
        except CalendarInvalid as exc:
            raise ValidationError(exc.message, code=exc.code) from exc

    def specs(self) -> list[IntervalSpec]:
        return [
            IntervalSpec(
                weekday=form.cleaned_data["weekday"],
                start=form.cleaned_data["start"],
                end=form.cleaned_data["end"],
                ends_next_day=form.cleaned_data.get("ends_next_day", False),
            )
            for form in _live_forms(self)
        ]


class WorkingIntervalForm(forms.ModelForm[WorkingInterval]):
    class Meta:
        model = WorkingInterval
        fields = ("weekday", "start", "end", "ends_next_day")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start is None or end is None:
            return data
        crosses = data.get("ends_next_day", False)
        if not crosses and end <= start:
            self.add_error(
                "end",
                ValidationError(
                    "The end comes before the start. Tick “ends next day” for hours that "
                    "cross midnight (00:00 → 00:00 with it ticked is the whole day).",
                    code="end_before_start",
                ),
            )
        elif crosses and end > start:
            self.add_error(
                "end", ValidationError("An interval lasts a day at most.", code="longer_than_a_day")
            )
        return data

    def validate_constraints(self, exclude: Any = None) -> None:
        return  # clean() says the same beside the field


class HolidayFormSet(BaseInlineFormSet[Holiday, BusinessCalendar, Any]):
    def specs(self) -> list[HolidaySpec]:
        return [
            HolidaySpec(
                day=form.cleaned_data["day"],
                name=form.cleaned_data.get("name", ""),
                yearly=form.cleaned_data.get("yearly", False),
                active=form.cleaned_data.get("active", True),
            )
            for form in _live_forms(self)
        ]


class HolidayImportForm(forms.Form):
    file = forms.FileField(
        help_text="An iCalendar (.ics) file of public holidays: its all-day events become "
        "holidays (a yearly rule makes a yearly holiday). Those already there are kept."
    )

    def clean_file(self) -> bytes:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_HOLIDAY_FILE_BYTES:
            raise ValidationError("The file is larger than 1 MB.", code="too_large")
        data = bytes(upload.read())
        try:
            parse_ics_holidays(data)
        except HolidayFileInvalid as exc:
            raise ValidationError(exc.message, code=exc.code) from exc
        return data


class PreviewForm(forms.Form):
    """A hypothetical ticket: which policy, calendar and due times it would get."""

    community = forms.ModelChoiceField(
        queryset=Community.objects.select_related("service_plan"),
        required=False,
        help_text="Its own calendar and plan apply. Leave empty to try a plan.",
    )
    plan = forms.ModelChoiceField(queryset=ServicePlan.objects.all(), required=False)
    severity = forms.ChoiceField(choices=Severity.choices, initial=Severity.MEDIUM)
    kind = forms.ChoiceField(choices=TicketKind.choices, initial=TicketKind.QUESTION)
    opened_at = forms.DateTimeField(
        help_text="When it is opened, in your own time zone (e.g. 2026-06-05 16:30).",
        initial=lambda: timezone.localtime().replace(second=0, microsecond=0, tzinfo=None),
    )
