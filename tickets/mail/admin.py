from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from simple_history.admin import SimpleHistoryAdmin

from tickets.mail.models import InboundMessage, Status, SupportAddress
from tickets.mail.services import inbound_retry


@admin.register(SupportAddress)
class SupportAddressAdmin(SimpleHistoryAdmin):  # type: ignore[misc]  # simple_history is untyped
    list_display = ("address", "community", "active")
    list_filter = ("active",)
    search_fields = ("address", "community__name")
    autocomplete_fields = ("community",)


@admin.register(InboundMessage)
class InboundMessageAdmin(admin.ModelAdmin[InboundMessage]):
    """What came in and what became of it; quarantined messages can be run again."""

    list_display = ("received_at", "from_address", "subject", "status", "reason", "ticket")
    list_filter = ("status", "reason", "source")
    search_fields = ("message_id", "from_address", "subject")
    exclude = ("raw",)
    readonly_fields = (
        "message_id", "source", "received_at", "from_address", "recipients", "subject",
        "status", "reason", "detail", "ticket", "ticket_message", "error", "attempts",
    )  # fmt: skip
    actions = ("retry",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Run the selected quarantined messages through intake again")
    def retry(self, request: HttpRequest, queryset: QuerySet[InboundMessage]) -> None:
        done = 0
        for inbound in queryset.filter(status=Status.QUARANTINED):
            if inbound_retry(inbound=inbound).status != Status.QUARANTINED:
                done += 1
        self.message_user(request, f"{done} message(s) processed.", messages.INFO)
