"""People's contact methods and notification rules (with history, added through
incidents.notify.services), and the notifications with their deliveries, read-only."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from simple_history.admin import SimpleHistoryAdmin

from core.admin import ReadOnlyAdmin, adopt_saved
from incidents.notify import services
from incidents.notify.models import (
    Channel,
    ContactMethod,
    Delivery,
    DeliveryStatus,
    Notification,
    NotificationRule,
)


@admin.register(ContactMethod)
class ContactMethodAdmin(SimpleHistoryAdmin):  # type: ignore[misc]
    list_display = ("user", "kind", "address", "label", "created_at")
    list_filter = ("kind",)
    search_fields = ("user__email", "address", "label")
    list_select_related = ("user",)
    autocomplete_fields = ("user",)
    fields = ("user", "kind", "address", "label", "secret", "created_at")
    readonly_fields = ("created_at",)

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm[ContactMethod]]:
        form: type[forms.ModelForm[ContactMethod]] = super().get_form(
            request, obj, change=change, **kwargs
        )
        # The secret is written, never shown again.
        form.base_fields["secret"].widget = forms.PasswordInput(render_value=False)
        form.base_fields["secret"].required = False
        return form

    def save_model(self, request: HttpRequest, obj: ContactMethod, form: Any, change: bool) -> None:
        if change:
            if not form.cleaned_data.get("secret"):
                obj.secret = ContactMethod.objects.get(pk=obj.pk).secret
            obj.save()
            return
        saved = services.contact_method_create(
            user=obj.user, kind=obj.kind, address=obj.address, label=obj.label, secret=obj.secret
        )
        adopt_saved(obj, saved)


@admin.register(NotificationRule)
class NotificationRuleAdmin(SimpleHistoryAdmin):  # type: ignore[misc]
    list_display = ("user", "importance", "position", "channel", "delay_minutes", "contact_method")
    list_filter = ("importance", "channel")
    search_fields = ("user__email",)
    list_select_related = ("user", "contact_method")
    autocomplete_fields = ("user",)
    ordering = ("user", "importance", "position")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        # A new rule goes last (reorder on the desk page or by editing the position).
        return () if obj is not None else ("position",)

    def save_model(
        self, request: HttpRequest, obj: NotificationRule, form: Any, change: bool
    ) -> None:
        if change:
            obj.save()
            return
        saved = services.rule_create(
            user=obj.user,
            importance=obj.importance,
            channel=obj.channel,
            delay_minutes=obj.delay_minutes,
            contact_method=obj.contact_method,
        )
        adopt_saved(obj, saved)


class DeliveryInline(admin.TabularInline[Delivery, Notification]):
    model = Delivery
    extra = 0
    can_delete = False
    fields = (
        "step", "channel", "address", "status", "due_at", "attempts", "next_attempt_at",
        "sent_at", "last_error", "provider_id", "provider_response", "idempotency_key",
    )  # fmt: skip
    readonly_fields = fields
    ordering = ("step", "id")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class DeliveryStatusFilter(admin.SimpleListFilter):
    title = "delivery status"
    parameter_name = "delivery_status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(value, str(label)) for value, label in DeliveryStatus.choices]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value():
            return queryset.filter(deliveries__status=self.value()).distinct()
        return queryset


class DeliveryChannelFilter(admin.SimpleListFilter):
    title = "delivery channel"
    parameter_name = "delivery_channel"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(value, str(label)) for value, label in Channel.choices]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value():
            return queryset.filter(deliveries__channel=self.value()).distinct()
        return queryset


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ("subject", "recipient", "importance", "source", "source_id", "created_at")
    list_filter = (DeliveryStatusFilter, DeliveryChannelFilter, "importance", "source")
    search_fields = ("subject", "key", "recipient__email")
    list_select_related = ("recipient",)
    date_hierarchy = "created_at"
    fields = (
        "subject", "body", "recipient", "importance", "key", "source", "source_id", "actions",
        "created_at",
    )  # fmt: skip
    inlines = (DeliveryInline,)


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = (
        "idempotency_key", "channel", "address", "status", "attempts", "due_at", "sent_at",
    )  # fmt: skip
    list_filter = ("status", "channel")
    search_fields = ("idempotency_key", "address", "provider_id")
    exclude = ("signing_secret",)
    raw_id_fields = ("notification", "contact_method")
    actions = ("send_again",)

    @admin.action(description="Send the selected failed or cancelled deliveries again")
    def send_again(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        count = services.deliveries_retry(delivery_ids=queryset.values_list("pk", flat=True))
        self.message_user(
            request,
            f"{count} deliver{'y' if count == 1 else 'ies'} will be sent again "
            "(sent ones, and those with no address, are left as they are).",
            messages.SUCCESS,
        )
