"""The admin writes through communities.services, like every other caller."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest

from communities import services
from communities.models import Community, Membership, ServicePlan, SupportBudget, TimeEntry
from communities.selectors import budget_usage
from core.admin import adopt_saved


@admin.register(ServicePlan)
class ServicePlanAdmin(admin.ModelAdmin[ServicePlan]):
    list_display = (
        "name",
        "uptime_guarantee",
        "downtime_credit_percent",
        "maintenance_window",
        "position",
    )
    prepopulated_fields = {"slug": ("name",)}

    def save_model(
        self, request: HttpRequest, obj: ServicePlan, form: ModelForm[ServicePlan], change: bool
    ) -> None:
        data = {
            f: form.cleaned_data[f] for f in services.SERVICE_PLAN_FIELDS if f in form.cleaned_data
        }
        if change:
            services.service_plan_update(plan=ServicePlan.objects.get(pk=obj.pk), data=data)
        else:
            adopt_saved(obj, services.service_plan_create(**data))


class MembershipInline(admin.TabularInline[Membership, Community]):
    """Shown for reading; memberships are added and changed on their own page."""

    model = Membership
    fields = ("user", "role", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Community)
class CommunityAdmin(admin.ModelAdmin[Community]):
    list_display = ("name", "slug", "service_plan", "time_zone", "active", "budget")
    list_filter = ("active", "service_plan")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    inlines = (MembershipInline,)
    list_select_related = ("service_plan",)

    @admin.display(description="Budget this period")
    def budget(self, community: Community) -> str:
        usage = budget_usage(community=community)
        if usage.budget_hours is None:
            return f"{usage.used_hours} h used, no budget"
        return f"{usage.used_hours} of {usage.budget_hours} h"

    def save_model(
        self, request: HttpRequest, obj: Community, form: ModelForm[Community], change: bool
    ) -> None:
        data = {
            f: form.cleaned_data[f] for f in services.COMMUNITY_FIELDS if f in form.cleaned_data
        }
        if change:
            services.community_update(community=Community.objects.get(pk=obj.pk), data=data)
        else:
            adopt_saved(obj, services.community_create(**data))


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin[Membership]):
    list_display = ("user", "community", "role", "created_at")
    list_filter = ("role", "community")
    search_fields = ("user__email", "user__first_name", "user__last_name", "community__name")
    list_select_related = ("user", "community")
    autocomplete_fields = ("user", "community")

    def get_readonly_fields(
        self, request: HttpRequest, obj: Membership | None = None
    ) -> tuple[str, ...]:
        return ("user", "community", "created_at") if obj else ("created_at",)

    def save_model(
        self, request: HttpRequest, obj: Membership, form: ModelForm[Membership], change: bool
    ) -> None:
        if change:
            services.membership_set_role(
                membership=Membership.objects.get(pk=obj.pk), role=form.cleaned_data["role"]
            )
        else:
            adopt_saved(
                obj,
                services.membership_add(
                    community=form.cleaned_data["community"],
                    user=form.cleaned_data["user"],
                    role=form.cleaned_data["role"],
                ),
            )

    def delete_model(self, request: HttpRequest, obj: Membership) -> None:
        services.membership_remove(membership=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        for membership in queryset:
            services.membership_remove(membership=membership)


@admin.register(SupportBudget)
class SupportBudgetAdmin(admin.ModelAdmin[SupportBudget]):
    list_display = ("community", "hours", "period")
    list_select_related = ("community",)

    def get_readonly_fields(
        self, request: HttpRequest, obj: SupportBudget | None = None
    ) -> tuple[str, ...]:
        return ("community",) if obj else ()

    def save_model(
        self, request: HttpRequest, obj: SupportBudget, form: ModelForm[SupportBudget], change: bool
    ) -> None:
        community = obj.community if change else form.cleaned_data["community"]
        adopt_saved(
            obj,
            services.support_budget_set(
                community=community,
                hours=form.cleaned_data["hours"],
                period=form.cleaned_data["period"],
            ),
        )


@admin.register(TimeEntry)
class TimeEntryAdmin(admin.ModelAdmin[TimeEntry]):
    list_display = ("ticket", "community", "agent", "minutes", "worked_at", "note")
    list_filter = ("community",)
    list_select_related = ("ticket", "community", "agent")
    date_hierarchy = "worked_at"
    fields = ("ticket", "agent", "minutes", "note", "worked_at")
    raw_id_fields = ("ticket",)

    def get_readonly_fields(
        self, request: HttpRequest, obj: TimeEntry | None = None
    ) -> tuple[str, ...]:
        return self.fields if obj else ()  # an entry is corrected by deleting it and logging anew

    def save_model(
        self, request: HttpRequest, obj: TimeEntry, form: ModelForm[TimeEntry], change: bool
    ) -> None:
        if change:
            return
        adopt_saved(
            obj,
            services.time_entry_log(
                ticket=form.cleaned_data["ticket"],
                agent=form.cleaned_data["agent"],
                minutes=form.cleaned_data["minutes"],
                note=form.cleaned_data["note"],
                worked_at=form.cleaned_data["worked_at"],
            ),
        )

    def delete_model(self, request: HttpRequest, obj: TimeEntry) -> None:
        services.time_entry_delete(entry=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[TimeEntry]) -> None:
        for entry in queryset:
            services.time_entry_delete(entry=entry)
