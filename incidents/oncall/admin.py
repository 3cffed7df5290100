"""The admin writes through incidents.oncall.services, like every other caller.

Schedules (with their layers listed, and who is on call now and over the next 14 days),
layers (with their participants in turn order and their restriction windows, saved as a
whole), overrides, and handoff notes (read-only: the outgoing person writes them on the
desk). Every change keeps history.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import construct_change_message
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from simple_history.admin import SimpleHistoryAdmin

from core.admin import adopt_saved
from core.models import User
from incidents.oncall.models import (
    HandoffNote,
    Layer,
    LayerParticipant,
    LayerRestriction,
    Override,
    Schedule,
    ShiftKind,
)
from incidents.oncall.selectors import on_call, shifts
from incidents.oncall.services import (
    WindowSpec,
    layer_delete,
    layer_save,
    override_create,
    override_delete,
    schedule_backup_check,
    schedule_create,
    schedule_update,
)

PREVIEW_DAYS = 14


def _actor(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _live_forms(formset: BaseInlineFormSet[Any, Any, Any]) -> list[forms.Form]:
    return [
        form
        for form in formset.forms
        if form.cleaned_data and not form.cleaned_data.get("DELETE", False)
    ]


# ---------------------------------------------------------------- schedules


class ScheduleForm(forms.ModelForm[Schedule]):
    class Meta:
        model = Schedule
        fields = ("name", "time_zone", "description", "backup_of")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        try:
            schedule_backup_check(
                self.instance if self.instance.pk else None, data.get("backup_of")
            )
        except ValidationError as exc:
            self.add_error(None, exc)
        return data


class LayerInline(admin.TabularInline[Layer, Schedule]):
    """The layers, highest first; each is changed on its own page (with its people)."""

    model = Layer
    fields = ("position", "name", "kind", "handoff", "people", "restricted")
    readonly_fields = fields
    extra = 0
    show_change_link = True
    can_delete = False
    ordering = ("-position",)
    verbose_name_plural = "layers (a higher position wins where it has someone on call)"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="Shifts")
    def handoff(self, layer: Layer) -> str:
        if layer.kind == ShiftKind.CUSTOM:
            return f"every {layer.shift_minutes} min from {timezone.localtime(layer.starts_at):%Y-%m-%d %H:%M}"
        day = f"{layer.get_handoff_weekday_display()} " if layer.kind == ShiftKind.WEEKLY else ""
        return f"{layer.get_kind_display()}, handoff {day}{layer.handoff_time:%H:%M}"

    @admin.display(description="Participants, in turn")
    def people(self, layer: Layer) -> str:
        return ", ".join(p.user.display_name for p in layer.participants.all())

    @admin.display(description="Restricted to")
    def restricted(self, layer: Layer) -> str:
        return ", ".join(str(r) for r in layer.restrictions.all()) or "always"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Layer]:
        return (
            super()
            .get_queryset(request)
            .prefetch_related("participants__user", "restrictions")
            .order_by("-position")
        )


@admin.register(Schedule)
class ScheduleAdmin(SimpleHistoryAdmin):  # type: ignore[misc]
    form = ScheduleForm
    list_display = ("name", "time_zone", "backup_of", "on_call_now")
    search_fields = ("name",)
    fields = ("name", "time_zone", "description", "backup_of", "add_layer", "on_call")
    readonly_fields = ("add_layer", "on_call")
    inlines = (LayerInline,)

    @admin.display(description="On call now")
    def on_call_now(self, schedule: Schedule) -> str:
        now = timezone.now()
        user = on_call(schedule, now)
        return user.display_name if user else "nobody"

    @admin.display(description="Layers")
    def add_layer(self, schedule: Schedule) -> str:
        if schedule.pk is None:
            return "Save the schedule first, then add its layers."
        url = reverse("admin:oncall_layer_add") + f"?schedule={schedule.pk}"
        return format_html('<a class="button" href="{}">Add a layer</a>', url)

    @admin.display(description=f"Who is on call now, and the next {PREVIEW_DAYS} days")
    def on_call(self, schedule: Schedule) -> str:
        if schedule.pk is None:
            return "—"
        now = timezone.now()
        end = now + timedelta(days=PREVIEW_DAYS)
        found = shifts(schedule, now, end)
        zone = ZoneInfo(schedule.time_zone)
        if not found:
            return f"Nobody is on call in the next {PREVIEW_DAYS} days."
        current = found[0] if found[0].start == now else None
        head = (
            format_html(
                "<p><strong>Now: {}</strong> until {}</p>",
                current.user.display_name,
                f"{current.end.astimezone(zone):%a %d %b %H:%M}",
            )
            if current
            else format_html("<p><strong>Now: nobody</strong></p>")
        )
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    f"{s.start.astimezone(zone):%a %d %b %H:%M}",
                    f"{s.end.astimezone(zone):%a %d %b %H:%M}",
                    s.user.display_name,
                    "override" if s.source == "override" else f"layer {s.layer_name}",
                )
                for s in found
            ),
        )
        return format_html(
            '{}<table class="oncall-preview"><thead><tr><th>From</th><th>Until</th><th>Who</th>'
            "<th>From where</th></tr></thead><tbody>{}</tbody></table>"
            "<p>Times in {}.</p>",
            head,
            rows,
            schedule.time_zone,
        )

    def save_model(self, request: HttpRequest, obj: Schedule, form: Any, change: bool) -> None:
        data = {f: form.cleaned_data[f] for f in ScheduleForm.Meta.fields}
        if change:
            saved = schedule_update(schedule=obj, data=data, actor=_actor(request))
        else:
            saved = schedule_create(**data, actor=_actor(request))
        adopt_saved(obj, saved)


# ---------------------------------------------------------------- layers


class ParticipantFormSet(BaseInlineFormSet[LayerParticipant, Layer, Any]):
    """The rotation's people, in turn order: at least one, each once."""

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        people = self.people()
        if not people:
            raise ValidationError("A rotation needs at least one participant.")
        if len({p.pk for p in people}) != len(people):
            raise ValidationError("Each person takes one place in the rotation.")

    def people(self) -> list[User]:
        live = sorted(_live_forms(self), key=lambda f: f.cleaned_data.get("position") or 0)
        return [form.cleaned_data["user"] for form in live]


class ParticipantForm(forms.ModelForm[LayerParticipant]):
    class Meta:
        model = LayerParticipant
        fields = ("position", "user")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        users = User.objects.filter(is_staff=True, is_active=True).order_by("first_name", "email")
        self.fields["user"].queryset = users  # type: ignore[attr-defined]


class ParticipantInline(admin.TabularInline[LayerParticipant, Layer]):
    model = LayerParticipant
    form = ParticipantForm
    formset = ParticipantFormSet
    extra = 1
    verbose_name_plural = "participants (in turn order: lowest position first)"


class RestrictionFormSet(BaseInlineFormSet[LayerRestriction, Layer, Any]):
    def specs(self) -> list[WindowSpec]:
        return [
            WindowSpec(
                f.cleaned_data["weekday"],
                f.cleaned_data["start"],
                f.cleaned_data["end"],
                f.cleaned_data.get("ends_next_day", False),
            )
            for f in _live_forms(self)
        ]


class RestrictionInline(admin.TabularInline[LayerRestriction, Layer]):
    model = LayerRestriction
    formset = RestrictionFormSet
    fields = ("weekday", "start", "end", "ends_next_day")
    extra = 0
    verbose_name_plural = (
        "restrictions (none: always on call; otherwise only within these windows, "
        "in the schedule's time zone)"
    )


class LayerForm(forms.ModelForm[Layer]):
    class Meta:
        model = Layer
        fields = (
            "schedule", "name", "position", "kind", "shift_minutes",
            "handoff_weekday", "handoff_time", "starts_at",
        )  # fmt: skip

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("kind") == ShiftKind.CUSTOM and not data.get("shift_minutes"):
            self.add_error("shift_minutes", "A shift must last longer than zero.")
        return data


@admin.register(Layer)
class LayerAdmin(SimpleHistoryAdmin):  # type: ignore[misc]
    form = LayerForm
    list_display = ("__str__", "position", "kind", "starts_at")
    list_filter = ("schedule",)
    inlines = (ParticipantInline, RestrictionInline)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        return dict(request.GET.items())

    def revert_disabled(self, request: HttpRequest, obj: Any = None) -> bool:
        return True  # a layer is its people and windows too: change it on its page

    def save_model(self, request: HttpRequest, obj: Layer, form: Any, change: bool) -> None:
        """Saved with its participants and windows, as a whole, in save_related."""

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        people = next(f for f in formsets if isinstance(f, ParticipantFormSet))
        windows = next(f for f in formsets if isinstance(f, RestrictionFormSet))
        data = form.cleaned_data
        saved = layer_save(
            schedule=data["schedule"],
            layer=form.instance if change else None,
            name=data["name"],
            position=data["position"],
            kind=data["kind"],
            starts_at=data["starts_at"],
            participants=people.people(),
            handoff_weekday=data["handoff_weekday"],
            handoff_time=data["handoff_time"],
            shift_minutes=data["shift_minutes"],
            restrictions=windows.specs(),
            actor=_actor(request),
        )
        adopt_saved(form.instance, saved)

    def construct_change_message(
        self, request: HttpRequest, form: Any, formsets: Any, add: bool = False
    ) -> Any:
        return construct_change_message(form, [], add)

    def delete_model(self, request: HttpRequest, obj: Layer) -> None:
        layer_delete(layer=obj, actor=_actor(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Layer]) -> None:
        for layer in queryset:
            layer_delete(layer=layer, actor=_actor(request))


# ---------------------------------------------------------------- overrides and notes


@admin.register(Override)
class OverrideAdmin(SimpleHistoryAdmin):  # type: ignore[misc]
    """Added and removed, never changed: a different cover is a new override."""

    list_display = ("schedule", "user", "start", "end", "reason", "created_by")
    list_filter = ("schedule",)
    fields = ("schedule", "user", "start", "end", "reason")
    list_select_related = ("schedule", "user", "created_by")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: Override, form: Any, change: bool) -> None:
        data = form.cleaned_data
        saved = override_create(
            schedule=data["schedule"],
            user=data["user"],
            start=data["start"],
            end=data["end"],
            reason=data["reason"],
            actor=_actor(request),
        )
        adopt_saved(obj, saved)

    def delete_model(self, request: HttpRequest, obj: Override) -> None:
        override_delete(override=obj, actor=_actor(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Override]) -> None:
        for override in queryset:
            override_delete(override=override, actor=_actor(request))


@admin.register(HandoffNote)
class HandoffNoteAdmin(SimpleHistoryAdmin):  # type: ignore[misc]
    """Read-only: the outgoing person writes the note on the desk."""

    list_display = (
        "schedule",
        "handoff_at",
        "outgoing",
        "incoming",
        "written_at",
        "acknowledged_at",
    )
    list_filter = ("schedule",)
    list_select_related = ("schedule", "outgoing", "incoming")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
