from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from reports.models import BudgetNotice, BudgetPeriod, ReportMailing, Target, ThresholdCrossing
from reports.services import target_save


@admin.register(Target)
class TargetAdmin(admin.ModelAdmin[Target]):
    list_display = (
        "metric",
        "direction",
        "target",
        "threshold",
        "window_days",
        "state",
        "checked_at",
        "active",
    )
    list_filter = ("active", "state", "direction")
    readonly_fields = ("state", "checked_at")
    fields = (
        "metric",
        "direction",
        "target",
        "threshold",
        "window_days",
        "source",
        "active",
        "state",
        "checked_at",
    )

    def save_model(self, request: HttpRequest, obj: Target, form: Any, change: bool) -> None:
        target_save(target=obj)


class ReadOnly(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ThresholdCrossing)
class ThresholdCrossingAdmin(ReadOnly):
    list_display = ("target", "value", "crossed_at", "notified_at", "cleared_at")
    list_select_related = ("target",)


@admin.register(BudgetPeriod)
class BudgetPeriodAdmin(ReadOnly):
    list_display = ("community", "kind", "starts_at", "ends_at", "hours")
    list_select_related = ("community",)
    list_filter = ("kind",)


@admin.register(BudgetNotice)
class BudgetNoticeAdmin(ReadOnly):
    list_display = ("period", "level", "used_minutes", "created_at")


@admin.register(ReportMailing)
class ReportMailingAdmin(ReadOnly):
    list_display = ("kind", "period_start", "community", "recipients", "sent_at")
