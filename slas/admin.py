"""The admin writes through slas.services, like every other caller.

Calendars (with their weekly hours and holidays, and holiday import from an .ics file),
which plan and community runs on which calendar, SLA policies (with history, a plan x
severity grid and a preview of a hypothetical ticket's due times), and the clocks
themselves, read-only.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import construct_change_message
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from simple_history.admin import SimpleHistoryAdmin

from core.admin import ReadOnlyAdmin, adopt_saved
from core.models import User
from slas.forms import (
    HolidayFormSet,
    HolidayImportForm,
    PreviewForm,
    WorkingIntervalForm,
    WorkingIntervalFormSet,
)
from slas.models import (
    BusinessCalendar,
    ClockEvent,
    CommunityCalendar,
    Holiday,
    PlanCalendar,
    SLAPolicy,
    SLATarget,
    TicketSLA,
    WorkingInterval,
)
from slas.selectors import humanize, policy_grid, sla_preview
from slas.services.calendars import (
    business_calendar_save,
    community_calendar_set,
    holidays_import,
    plan_calendar_set,
)
from slas.services.clocks import ticket_clocks_recompute
from slas.services.policies import POLICY_FIELDS, sla_policy_create, sla_policy_update
from tickets.models import Severity


def _actor(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


# ---------------------------------------------------------------- calendars


class WorkingIntervalInline(admin.TabularInline[WorkingInterval, BusinessCalendar]):
    model = WorkingInterval
    form = WorkingIntervalForm
    formset = WorkingIntervalFormSet
    extra = 0
    verbose_name = "working interval"
    verbose_name_plural = "weekly working hours (00:00 → 00:00 with “ends next day”: the whole day)"


class HolidayInline(admin.TabularInline[Holiday, BusinessCalendar]):
    model = Holiday
    formset = HolidayFormSet
    fields = ("day", "name", "yearly", "active")
    extra = 0
    verbose_name_plural = "holidays (switch one off to work that day after all)"


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(SimpleHistoryAdmin):  # type: ignore[misc]
    list_display = ("name", "time_zone", "around_the_clock", "is_default", "hours")
    fields = ("name", "time_zone", "around_the_clock", "is_default", "description", "import_link")
    readonly_fields = ("import_link",)
    inlines = (WorkingIntervalInline, HolidayInline)
    search_fields = ("name",)

    @admin.display(description="Hours")
    def hours(self, calendar: BusinessCalendar) -> str:
        if calendar.around_the_clock:
            return "around the clock"
        return ", ".join(str(i) for i in calendar.intervals.all()) or "none"

    @admin.display(description="Holidays from a file")
    def import_link(self, calendar: BusinessCalendar) -> str:
        if calendar.pk is None:
            return "Save the calendar first, then import holidays from an .ics file."
        url = reverse("admin:slas_businesscalendar_import", args=[calendar.pk])
        return format_html('<a class="button" href="{}">Import holidays (.ics)</a>', url)

    def get_queryset(self, request: HttpRequest) -> QuerySet[BusinessCalendar]:
        calendars: QuerySet[BusinessCalendar] = super().get_queryset(request)
        return calendars.prefetch_related("intervals")

    def revert_disabled(self, request: HttpRequest, obj: Any = None) -> bool:
        return True  # a calendar is its hours and holidays too: change it on its page

    def save_model(
        self, request: HttpRequest, obj: BusinessCalendar, form: Any, change: bool
    ) -> None:
        """Saved with its hours and holidays, as a whole, in save_related."""

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        intervals = next(f for f in formsets if isinstance(f, WorkingIntervalFormSet))
        holidays = next(f for f in formsets if isinstance(f, HolidayFormSet))
        data = form.cleaned_data
        saved = business_calendar_save(
            calendar=form.instance if change else None,
            name=data["name"],
            time_zone=data["time_zone"],
            around_the_clock=data["around_the_clock"],
            is_default=data["is_default"],
            description=data["description"],
            intervals=intervals.specs(),
            holidays=holidays.specs(),
            actor=_actor(request),
        )
        adopt_saved(form.instance, saved)

    def construct_change_message(
        self, request: HttpRequest, form: Any, formsets: Any, add: bool = False
    ) -> Any:
        return construct_change_message(form, [], add)

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<int:calendar_id>/import-holidays/",
                self.admin_site.admin_view(self.import_view),
                name="slas_businesscalendar_import",
            ),
            *super().get_urls(),
        ]

    def import_view(self, request: HttpRequest, calendar_id: int) -> HttpResponse:
        calendar = get_object_or_404(BusinessCalendar, pk=calendar_id)
        if not self.has_change_permission(request, calendar):
            return HttpResponseRedirect(reverse("admin:index"))
        form = HolidayImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            created = holidays_import(
                calendar=calendar, data=form.cleaned_data["file"], actor=_actor(request)
            )
            self.message_user(
                request, f"{len(created)} holidays imported into {calendar}.", messages.SUCCESS
            )
            return HttpResponseRedirect(
                reverse("admin:slas_businesscalendar_change", args=[calendar.pk])
            )
        context = {
            **self.admin_site.each_context(request),
            "title": f"Import holidays into {calendar}",
            "opts": self.model._meta,
            "original": calendar,
            "form": form,
        }
        return TemplateResponse(request, "admin/slas/import_holidays.html", context)


@admin.register(PlanCalendar)
class PlanCalendarAdmin(admin.ModelAdmin[PlanCalendar]):
    list_display = ("plan", "calendar")
    list_select_related = ("plan", "calendar")

    def save_model(self, request: HttpRequest, obj: PlanCalendar, form: Any, change: bool) -> None:
        plan_calendar_set(plan=form.cleaned_data["plan"], calendar=form.cleaned_data["calendar"])
        adopt_saved(obj, PlanCalendar.objects.get(plan=form.cleaned_data["plan"]))


@admin.register(CommunityCalendar)
class CommunityCalendarAdmin(admin.ModelAdmin[CommunityCalendar]):
    list_display = ("community", "calendar")
    list_select_related = ("community", "calendar")

    def save_model(
        self, request: HttpRequest, obj: CommunityCalendar, form: Any, change: bool
    ) -> None:
        community = form.cleaned_data["community"]
        community_calendar_set(community=community, calendar=form.cleaned_data["calendar"])
        adopt_saved(obj, CommunityCalendar.objects.get(community=community))


# ---------------------------------------------------------------- policies


def _minutes(minutes: int | None, business: bool) -> str:
    if not minutes:
        return "—"
    return humanize(timedelta(minutes=minutes)) + ("" if business else " (24/7)")


def _cell(policy: SLAPolicy | None) -> dict[str, Any] | None:
    if policy is None:
        return None
    return {
        "policy": policy,
        "url": reverse("admin:slas_slapolicy_change", args=[policy.pk]),
        "targets": [
            (
                "First response",
                _minutes(policy.first_response_minutes, policy.first_response_business),
            ),
            ("Next update", _minutes(policy.next_update_minutes, policy.next_update_business)),
            ("Resolution", _minutes(policy.resolution_minutes, policy.resolution_business)),
        ],
    }


class SLAPolicyForm(forms.ModelForm[SLAPolicy]):
    class Meta:
        model = SLAPolicy
        fields = POLICY_FIELDS


@admin.register(SLAPolicy)
class SLAPolicyAdmin(SimpleHistoryAdmin):  # type: ignore[misc]
    form = SLAPolicyForm
    change_list_template = "admin/slas/slapolicy/change_list.html"
    list_display = (
        "position", "name", "active", "service_plan", "severity", "kind", "community",
        "first_response", "next_update", "resolution", "warning",
    )  # fmt: skip
    list_display_links = ("name",)
    list_filter = ("active", "service_plan", "severity", "kind")
    list_select_related = ("service_plan", "community")
    search_fields = ("name",)
    fieldsets = (
        (None, {"fields": ("name", "position", "active")}),
        (
            "Conditions (empty: any)",
            {"fields": ("service_plan", "severity", "kind", "community")},
        ),
        (
            "Targets, in minutes (empty: none)",
            {
                "fields": (
                    ("first_response_minutes", "first_response_business"),
                    ("next_update_minutes", "next_update_business"),
                    ("resolution_minutes", "resolution_business"),
                )
            },
        ),
        (
            "Warning and pauses",
            {
                "fields": (
                    ("warn_percent", "warn_minutes_before"),
                    "notify_around_the_clock",
                    "pause_when_pending",
                )
            },
        ),
    )

    @admin.display(description="First response")
    def first_response(self, policy: SLAPolicy) -> str:
        return _minutes(policy.first_response_minutes, policy.first_response_business)

    @admin.display(description="Next update")
    def next_update(self, policy: SLAPolicy) -> str:
        return _minutes(policy.next_update_minutes, policy.next_update_business)

    @admin.display(description="Resolution")
    def resolution(self, policy: SLAPolicy) -> str:
        return _minutes(policy.resolution_minutes, policy.resolution_business)

    @admin.display(description="Warning")
    def warning(self, policy: SLAPolicy) -> str:
        if policy.warn_percent:
            return f"at {policy.warn_percent} %"
        if policy.warn_minutes_before:
            return f"{policy.warn_minutes_before} min before"
        return "—"

    def save_model(self, request: HttpRequest, obj: SLAPolicy, form: Any, change: bool) -> None:
        data = {f: form.cleaned_data[f] for f in POLICY_FIELDS if f in form.cleaned_data}
        if change:
            sla_policy_update(policy=obj, data=data, actor=_actor(request))
        else:
            adopt_saved(obj, sla_policy_create(actor=_actor(request), **data))

    def get_urls(self) -> list[URLPattern]:
        return [
            path("grid/", self.admin_site.admin_view(self.grid_view), name="slas_slapolicy_grid"),
            path(
                "preview/",
                self.admin_site.admin_view(self.preview_view),
                name="slas_slapolicy_preview",
            ),
            *super().get_urls(),
        ]

    def grid_view(self, request: HttpRequest) -> HttpResponse:
        """Which policy each plan and severity gets, with its targets."""
        plans, severities, grid = policy_grid()
        rows = [
            (plan, [_cell(grid[(plan.pk, severity)].policy) for severity in severities])
            for plan in plans
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": "SLA policies: plan × severity (for a question)",
            "opts": self.model._meta,
            "severities": [Severity(s).label for s in severities],
            "rows": rows,
        }
        return TemplateResponse(request, "admin/slas/slapolicy/grid.html", context)

    def preview_view(self, request: HttpRequest) -> HttpResponse:
        """The due times of a hypothetical ticket opened at a chosen instant."""
        form = PreviewForm(request.GET or None)
        preview = None
        if form.is_bound and form.is_valid():
            preview = sla_preview(
                community=form.cleaned_data["community"],
                plan=form.cleaned_data["plan"],
                severity=form.cleaned_data["severity"],
                kind=form.cleaned_data["kind"],
                opened_at=form.cleaned_data["opened_at"],
            )
        context = {
            **self.admin_site.each_context(request),
            "title": "Preview a ticket's SLA clocks",
            "opts": self.model._meta,
            "form": form,
            "preview": preview,
        }
        return TemplateResponse(request, "admin/slas/slapolicy/preview.html", context)


# ---------------------------------------------------------------- the clocks (read-only)


class ClockEventInline(admin.TabularInline[ClockEvent, SLATarget]):
    model = ClockEvent
    fields = ("at", "kind", "actor", "data")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(SLATarget)
class SLATargetAdmin(ReadOnlyAdmin):
    list_display = (
        "ticket", "metric", "state", "started_at", "due_at", "warned_at", "breached_at",
        "met_at", "policy",
    )  # fmt: skip
    list_filter = ("state", "metric", "business", "severity", "plan")
    list_select_related = ("ticket", "policy")
    raw_id_fields = ("ticket",)
    date_hierarchy = "started_at"
    inlines = (ClockEventInline,)


@admin.register(TicketSLA)
class TicketSLAAdmin(ReadOnlyAdmin):
    list_display = ("ticket", "policy", "status", "severity", "clocks")
    list_select_related = ("ticket", "policy")
    raw_id_fields = ("ticket",)
    actions = ("recompute",)

    @admin.display(description="Clocks")
    def clocks(self, sla: TicketSLA) -> str:
        targets = SLATarget.objects.filter(ticket_id=sla.ticket_id).order_by("created_at")
        return format_html_join(", ", "{} {}", ((t.metric, t.state) for t in targets))

    @admin.action(description="Match the policy again and recompute the running clocks")
    def recompute(self, request: HttpRequest, queryset: QuerySet[TicketSLA]) -> None:
        changed = sum(
            ticket_clocks_recompute(
                ticket_id=sla.ticket_id, reason="recomputed from the admin", actor=_actor(request)
            )
            for sla in queryset
        )
        self.message_user(request, f"{changed} clocks recomputed.", messages.SUCCESS)
