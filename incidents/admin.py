"""The admin of incidents: severity definitions and their cadence, message templates,
services and components, each plan's maintenance allowance (all with history), and
incidents read-only (they change through the desk and the API, which keep the timeline)."""

from __future__ import annotations

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from core.admin import ReadOnlyAdmin
from incidents.models import (
    Component,
    Incident,
    MaintenanceAllowance,
    Service,
    SeverityDefinition,
    TimelineEntry,
    UpdateTemplate,
)


@admin.register(SeverityDefinition)
class SeverityDefinitionAdmin(SimpleHistoryAdmin):  # type: ignore[misc]  # simple_history is untyped
    list_display = (
        "level", "name", "update_minutes", "first_update_minutes", "postmortem_required",
        "postmortem_due_hours",
    )  # fmt: skip
    list_editable = ("update_minutes", "first_update_minutes", "postmortem_due_hours")
    ordering = ("level",)


@admin.register(UpdateTemplate)
class UpdateTemplateAdmin(SimpleHistoryAdmin):  # type: ignore[misc]  # simple_history is untyped
    list_display = ("name", "kind", "source", "position", "active")
    list_filter = ("kind", "active")
    list_editable = ("position", "active")
    fieldsets = (
        (None, {"fields": ("name", "kind", "source", "position", "active")}),
        (
            "Message",
            {
                "fields": ("body",),
                "description": "Variables: [Incident ID], [Title], [severity], [Status], "
                "[affected systems], [Brief description], [Next update], [Time], [Cadence], "
                "[Duration], [Update]; [Customer Name] becomes each reader's community. "
                "Anything else in brackets is left for the writer to fill in.",
            },
        ),
    )


class ComponentInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Component
    extra = 1


@admin.register(Service)
class ServiceAdmin(SimpleHistoryAdmin):  # type: ignore[misc]  # simple_history is untyped
    list_display = ("name", "position")
    inlines = (ComponentInline,)


@admin.register(MaintenanceAllowance)
class MaintenanceAllowanceAdmin(SimpleHistoryAdmin):  # type: ignore[misc]  # simple_history is untyped
    list_display = ("plan", "minutes", "period")


class TimelineInline(admin.TabularInline):  # type: ignore[type-arg]
    model = TimelineEntry
    fields = ("at", "kind", "text", "public", "actor")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(Incident)
class IncidentAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "severity", "status", "maintenance", "declared_at", "commander")
    list_filter = ("status", "severity", "maintenance")
    search_fields = ("title",)
    inlines = (TimelineInline,)
