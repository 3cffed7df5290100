"""The admin writes agents' saved filters through web.desk.services, like the desk does."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from core.admin import adopt_saved
from core.errors import ApplicationError
from web.desk.services import (
    saved_filter_check,
    saved_filter_create,
    saved_filter_delete,
    saved_filter_update,
)
from web.forms import show_errors
from web.models import SavedFilter


class SavedFilterForm(forms.ModelForm[SavedFilter]):
    class Meta:
        model = SavedFilter
        fields = ("owner", "name", "params", "shared")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        owner = data.get("owner") or (self.instance.owner if self.instance.pk else None)
        if owner is not None and "name" in data and "params" in data:
            try:
                saved_filter_check(
                    owner=owner,
                    name=data["name"],
                    params=data["params"] or {},
                    saved_filter=self.instance if self.instance.pk else None,
                )
            except (ApplicationError, ValidationError) as error:
                show_errors(self, error)
        return data


@admin.register(SavedFilter)
class SavedFilterAdmin(admin.ModelAdmin[SavedFilter]):
    form = SavedFilterForm
    list_display = ("name", "owner", "shared", "created_at")
    list_filter = ("shared",)
    list_select_related = ("owner",)
    search_fields = ("name", "owner__email")
    fields = ("owner", "name", "params", "shared")
    raw_id_fields = ("owner",)

    def get_readonly_fields(
        self, request: HttpRequest, obj: SavedFilter | None = None
    ) -> tuple[str, ...]:
        return ("owner",) if obj else ()

    def save_model(
        self,
        request: HttpRequest,
        obj: SavedFilter,
        form: forms.ModelForm[SavedFilter],
        change: bool,
    ) -> None:
        data = form.cleaned_data
        if change:
            saved_filter_update(
                saved_filter=SavedFilter.objects.get(pk=obj.pk),
                data={f: data[f] for f in ("name", "params", "shared")},
            )
        else:
            adopt_saved(
                obj,
                saved_filter_create(
                    owner=data["owner"],
                    name=data["name"],
                    params=data["params"],
                    shared=data["shared"],
                ),
            )

    def delete_model(self, request: HttpRequest, obj: SavedFilter) -> None:
        saved_filter_delete(saved_filter=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[SavedFilter]) -> None:
        for saved in queryset:
            saved_filter_delete(saved_filter=saved)
