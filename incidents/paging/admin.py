"""The admin of paging: escalation policies with their steps (and their history), the
routes from cause to policy, maintenance windows, and pages (read-only, with their
timeline). A policy's page offers "Policy test": who would be notified when, for a page
triggered at a chosen instant, without sending or writing anything (incidents.paging.preview).

The steps of a policy are checked as a whole (incidents.paging.services.policies.steps_check:
at least one step notifies someone, a repeat goes back to a step that exists) before the
admin saves any of them."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Count, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils import timezone
from simple_history.admin import SimpleHistoryAdmin

from communities.models import Community
from core.admin import ReadOnlyAdmin, adopt_saved
from core.errors import ApplicationError
from incidents.paging.models import (
    CauseKind,
    EscalationPolicy,
    EscalationStep,
    MaintenanceWindow,
    Page,
    PageEvent,
    PolicyRoute,
)
from incidents.paging.preview import policy_preview
from incidents.paging.services.pages import maintenance_window_create
from incidents.paging.services.policies import policy_for, steps_check
from tickets.models import Severity


class StepFormSet(forms.BaseInlineFormSet):  # type: ignore[type-arg]
    """The steps that stay, checked together as the services check them."""

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        kept: list[EscalationStep] = []
        for form in self.forms:
            if not getattr(form, "cleaned_data", None) or form.cleaned_data.get("DELETE"):
                continue
            step = form.instance
            if form.cleaned_data.get("kind") == "notify_users" and not form.cleaned_data.get(
                "users"
            ):
                form.add_error("users", "Name the people to notify.")
                return
            kept.append(step)
        try:
            steps_check(kept)
        except ApplicationError as error:
            raise ValidationError(error.message, code=error.code) from error


class EscalationStepInline(admin.StackedInline[EscalationStep, EscalationPolicy]):
    model = EscalationStep
    formset = StepFormSet
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}  # noqa: RUF012
    extra = 0
    ordering = ("position",)
    autocomplete_fields = ("users",)
    fieldsets = (
        (None, {"fields": (("position", "kind", "important"),)}),
        ("Notify whoever is on call", {"fields": (("schedule", "on_call_when"),)}),
        ("Notify people", {"fields": ("users",)}),
        ("Notify a team", {"fields": (("team", "team_mode"),)}),
        ("Wait", {"fields": ("wait_minutes",)}),
        (
            "Time window",
            {"fields": (("window_weekdays", "window_starts", "window_ends", "window_time_zone"),)},
        ),
        ("Webhook", {"fields": (("webhook_url", "webhook_secret"),)}),
        ("Repeat", {"fields": (("repeat_from", "repeat_times"),)}),
    )


@admin.register(EscalationPolicy)
class EscalationPolicyAdmin(SimpleHistoryAdmin):  # type: ignore[misc]  # simple_history is untyped
    list_display = ("name", "step_count", "fallback_team", "reminder_minutes", "updated_at")
    search_fields = ("name",)
    filter_horizontal = ("fallback_users",)
    inlines = (EscalationStepInline,)
    readonly_fields = ("created_at", "updated_at")

    def get_queryset(self, request: HttpRequest) -> QuerySet[EscalationPolicy]:
        policies: QuerySet[EscalationPolicy] = super().get_queryset(request)
        return policies.select_related("fallback_team").annotate(step_total=Count("steps"))

    @admin.display(description="Steps", ordering="step_total")
    def step_count(self, policy: EscalationPolicy) -> int:
        return policy.step_total  # type: ignore[attr-defined, no-any-return]

    def save_model(
        self, request: HttpRequest, obj: EscalationPolicy, form: Any, change: bool
    ) -> None:
        obj.updated_at = timezone.now()
        super().save_model(request, obj, form, change)

    def get_urls(self) -> list[URLPattern]:
        test = path(
            "<path:object_id>/test/",
            self.admin_site.admin_view(self.policy_test_view),
            name="paging_escalationpolicy_test",
        )
        return [test, *super().get_urls()]

    def policy_test_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Who would be notified when (GET: it changes nothing)."""
        policy = self.get_object(request, object_id)
        if policy is None or not self.has_view_permission(request, policy):
            raise Http404("No such policy.")
        form = PolicyTestForm(request.GET or None)
        preview = routed = None
        if form.is_bound and form.is_valid():
            data = form.cleaned_data
            routed = policy_for(
                cause=data["cause"], severity=data["severity"], community=data["community"]
            )
            preview = policy_preview(policy=policy, at=data["at"])
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": policy,
            "title": f"Policy test: {policy}",
            "form": form,
            "preview": preview,
            "routed": routed,
            "routed_is_this": routed is not None and routed.pk == policy.pk,
            "time_zone": timezone.get_current_timezone_name(),
        }
        return TemplateResponse(request, "admin/paging/escalationpolicy/policy_test.html", context)


class PolicyTestForm(forms.Form):
    cause = forms.ChoiceField(choices=CauseKind.choices, initial=CauseKind.CRITICAL_TICKET)
    severity = forms.ChoiceField(choices=Severity.choices, initial=Severity.CRITICAL)
    community = forms.ModelChoiceField(
        queryset=Community.objects.order_by("name"),
        required=False,
        help_text="For the routes that name a community; empty: none.",
    )
    at = forms.DateTimeField(
        label="Triggered at",
        required=False,
        help_text="YYYY-MM-DD HH:MM in your time zone; empty: now.",
    )

    def clean_at(self) -> Any:
        return self.cleaned_data.get("at") or timezone.now()


@admin.register(PolicyRoute)
class PolicyRouteAdmin(SimpleHistoryAdmin):  # type: ignore[misc]
    list_display = ("position", "cause", "severity", "community", "policy", "active")
    list_display_links = ("position", "cause")
    list_filter = ("cause", "severity", "active")
    list_select_related = ("community", "policy")
    ordering = ("position", "id")


@admin.register(MaintenanceWindow)
class MaintenanceWindowAdmin(SimpleHistoryAdmin):  # type: ignore[misc]
    list_display = ("__str__", "community", "service", "starts_at", "ends_at", "created_by")
    list_select_related = ("community", "created_by")
    readonly_fields = ("created_by", "created_at")
    date_hierarchy = "starts_at"

    def save_model(
        self, request: HttpRequest, obj: MaintenanceWindow, form: Any, change: bool
    ) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        saved = maintenance_window_create(
            starts_at=obj.starts_at,
            ends_at=obj.ends_at,
            community=obj.community,
            service=obj.service,
            reason=obj.reason,
            created_by=request.user,  # type: ignore[arg-type]
        )
        adopt_saved(obj, saved)


class PageEventInline(admin.TabularInline[PageEvent, Page]):
    model = PageEvent
    fields = ("at", "kind", "actor", "via", "detail")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("at", "id")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[PageEvent]:
        return super().get_queryset(request).select_related("actor")


@admin.register(Page)
class PageAdmin(ReadOnlyAdmin):
    list_display = ("id", "title", "state", "cause", "severity", "policy", "acknowledged_by", "created_at")  # fmt: skip
    list_filter = ("state", "cause", "severity", "in_maintenance")
    list_select_related = ("policy", "acknowledged_by")
    search_fields = ("title", "dedup_key")
    date_hierarchy = "created_at"
    inlines = (PageEventInline,)
