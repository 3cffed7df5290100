"""The admin writes through the tickets services, like every other caller."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from core.admin import ReadOnlyAdmin, adopt_saved
from core.errors import ApplicationError
from core.models import User
from tickets.models import Attachment, Category, Channel, Macro, Message, Ticket, TicketEvent
from tickets.services import categories, conversation, lifecycle, macros
from tickets.states import TRANSITIONS


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin[Category]):
    list_display = ("__str__", "slug", "default_tier", "active")
    list_filter = ("active", "default_tier")
    prepopulated_fields = {"slug": ("name",)}

    def save_model(
        self, request: HttpRequest, obj: Category, form: forms.ModelForm[Category], change: bool
    ) -> None:
        data = {f: form.cleaned_data[f] for f in categories.CATEGORY_FIELDS}
        if change:
            categories.category_update(category=Category.objects.get(pk=obj.pk), data=data)
        else:
            adopt_saved(obj, categories.category_create(**data))


@admin.register(Macro)
class MacroAdmin(admin.ModelAdmin[Macro]):
    list_display = ("name", "kind", "owner", "active")
    list_filter = ("active", "kind")
    list_select_related = ("owner",)
    search_fields = ("name", "body")
    fields = macros.MACRO_FIELDS
    raw_id_fields = ("owner",)

    def save_model(
        self, request: HttpRequest, obj: Macro, form: forms.ModelForm[Macro], change: bool
    ) -> None:
        data = {f: form.cleaned_data[f] for f in macros.MACRO_FIELDS}
        if change:
            macros.macro_update(macro=Macro.objects.get(pk=obj.pk), data=data)
        else:
            adopt_saved(obj, macros.macro_create(**data))


class MessageInline(admin.StackedInline[Message, Ticket]):
    model = Message
    fields = ("author", "kind", "channel", "created_at", "body")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class TicketEventInline(admin.TabularInline[TicketEvent, Ticket]):
    model = TicketEvent
    fields = ("created_at", "kind", "actor", "data")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class TicketAddForm(forms.ModelForm[Ticket]):
    class Meta:
        model = Ticket
        fields = ("community", "requester", "subject", "description", "kind", "severity")

    def __init__(self, *args: Any, opened_by: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.opened_by = opened_by

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("community") and data.get("requester"):
            try:
                lifecycle.ticket_open_check(
                    community=data["community"],
                    requester=data["requester"],
                    opened_by=self.opened_by,
                )
            except ApplicationError as error:
                self.add_error("requester" if error.field == "community" else None, error.message)
        return data


class TicketChangeForm(forms.ModelForm[Ticket]):
    assignee = forms.ModelChoiceField(
        queryset=User.objects.filter(is_staff=True, is_active=True), required=False
    )

    class Meta:
        model = Ticket
        fields = (
            "subject",
            "description",
            "kind",
            "severity",
            "tier",
            "category",
            "tags",
            "assignee",
        )


def _transition_action(name: str) -> Callable[..., None]:
    transition = TRANSITIONS[name]

    def apply(modeladmin: TicketAdmin, request: HttpRequest, queryset: QuerySet[Ticket]) -> None:
        done, refused = 0, []
        for ticket in queryset:
            try:
                lifecycle.ticket_transition(ticket=ticket, name=name, actor=request.user)  # type: ignore[arg-type]
            except ApplicationError as error:
                refused.append(f"{ticket.reference}: {error.message}")
            else:
                done += 1
        if done:
            modeladmin.message_user(
                request, f"{transition.label}: {done} ticket(s).", messages.SUCCESS
            )
        for problem in refused:
            modeladmin.message_user(request, problem, messages.WARNING)

    apply.__name__ = f"transition_{name}"
    return admin.action(description=f"{transition.label} the selected tickets")(apply)


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin[Ticket]):
    list_display = (
        "reference",
        "subject",
        "community",
        "requester",
        "severity",
        "tier",
        "status",
        "assignee",
        "created_at",
    )
    list_filter = ("status", "severity", "tier", "kind", "channel", "community")
    search_fields = ("subject", "requester__email")
    list_select_related = ("community", "requester", "assignee")
    date_hierarchy = "created_at"
    autocomplete_fields = ("community", "requester")
    inlines = (MessageInline, TicketEventInline)
    actions = [
        _transition_action(name)
        for name, t in TRANSITIONS.items()
        if not t.automatic and not t.requires_reason
    ]
    readonly_fields = (
        "reference", "status", "community", "requester", "channel", "created_at",
        "status_changed_at", "first_responded_at", "resolved_at", "closed_at",
    )  # fmt: skip

    def get_form(
        self, request: HttpRequest, obj: Ticket | None = None, change: bool = False, **kwargs: Any
    ) -> Any:
        if obj is not None:
            return super().get_form(request, obj, change=change, form=TicketChangeForm, **kwargs)
        form: Any = super().get_form(request, obj, change=change, form=TicketAddForm, **kwargs)
        return functools.partial(form, opened_by=request.user)

    def get_inlines(self, request: HttpRequest, obj: Ticket | None) -> Any:
        return self.inlines if obj else ()

    def get_readonly_fields(
        self, request: HttpRequest, obj: Ticket | None = None
    ) -> tuple[str, ...]:
        return self.readonly_fields if obj else ()

    def get_fields(self, request: HttpRequest, obj: Ticket | None = None) -> Any:
        if obj is None:
            return list(TicketAddForm.Meta.fields)
        return [*self.readonly_fields, *TicketChangeForm.Meta.fields]

    def save_model(
        self, request: HttpRequest, obj: Ticket, form: forms.ModelForm[Ticket], change: bool
    ) -> None:
        actor: User = request.user  # type: ignore[assignment]
        if change:
            lifecycle.ticket_update(
                ticket=obj.pk,
                actor=actor,
                data={f: form.cleaned_data[f] for f in form.changed_data},
            )
            return
        adopt_saved(
            obj,
            lifecycle.ticket_open(
                community=form.cleaned_data["community"],
                requester=form.cleaned_data["requester"],
                subject=form.cleaned_data["subject"],
                description=form.cleaned_data["description"],
                kind=form.cleaned_data["kind"],
                severity=form.cleaned_data["severity"],
                channel=Channel.DESK,
                opened_by=actor,
            ),
        )


class MessageAddForm(forms.ModelForm[Message]):
    class Meta:
        model = Message
        fields = ("ticket", "kind", "body")


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin[Message]):
    list_display = ("id", "ticket", "author", "kind", "channel", "created_at")
    list_filter = ("kind", "channel")
    list_select_related = ("ticket", "author")
    raw_id_fields = ("ticket",)
    form = MessageAddForm

    def has_change_permission(self, request: HttpRequest, obj: Message | None = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def save_model(
        self, request: HttpRequest, obj: Message, form: forms.ModelForm[Message], change: bool
    ) -> None:
        adopt_saved(
            obj,
            conversation.message_add(
                ticket=form.cleaned_data["ticket"],
                author=request.user,  # type: ignore[arg-type]
                body=form.cleaned_data["body"],
                kind=form.cleaned_data["kind"],
                channel=Channel.DESK,
            ),
        )


@admin.register(Attachment)
class AttachmentAdmin(ReadOnlyAdmin):
    list_display = ("filename", "ticket", "content_type", "size", "uploaded_by", "created_at")
    list_select_related = ("ticket", "uploaded_by")


@admin.register(TicketEvent)
class TicketEventAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "ticket", "kind", "actor")
    list_filter = ("kind",)
    list_select_related = ("ticket", "actor")
