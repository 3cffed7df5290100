from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from simple_history.admin import SimpleHistoryAdmin

from tickets.mail.models import (
    InboundMessage,
    Mailbox,
    MailPreference,
    MailTemplate,
    OutboundMail,
    Status,
    SupportAddress,
)
from tickets.mail.outbound import mail_template_reset, mail_templates_ensure, outbound_requeue
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


@admin.register(OutboundMail)
class OutboundMailAdmin(admin.ModelAdmin[OutboundMail]):
    """What the desk sent or will send, with its headers and the last error."""

    list_display = ("created_at", "kind", "recipient", "subject", "status", "attempts", "sent_at")
    list_filter = ("status", "kind")
    search_fields = ("recipient", "subject", "message_id", "dedup_key")
    readonly_fields = (
        "kind", "dedup_key", "recipient", "ticket", "subject", "text", "html", "message_id",
        "in_reply_to", "references", "reply_to", "auto_submitted", "status", "reason",
        "attempts", "last_error", "next_attempt_at", "created_at", "sent_at",
    )  # fmt: skip
    actions = ("send_again",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Queue the selected failed mail again")
    def send_again(self, request: HttpRequest, queryset: QuerySet[OutboundMail]) -> None:
        count = outbound_requeue(ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{count} mail(s) queued again.", messages.INFO)


@admin.register(MailTemplate)
class MailTemplateAdmin(SimpleHistoryAdmin):  # type: ignore[misc]  # simple_history is untyped
    """Subject, text and HTML of each kind of mail. Templates see plain values only
    (ticket.reference, ticket.subject, ticket.url, recipient.name, ...; docs/mail.md)."""

    list_display = ("kind", "subject", "updated_at")
    readonly_fields = ("kind", "updated_at")
    actions = ("reset_to_default",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        mail_templates_ensure()  # every kind is listed, holding its default until edited
        return super().changelist_view(request, extra_context)

    def save_model(self, request: HttpRequest, obj: MailTemplate, form: Any, change: bool) -> None:
        obj.updated_at = timezone.now()
        super().save_model(request, obj, form, change)

    @admin.action(description="Reset the selected templates to the default")
    def reset_to_default(self, request: HttpRequest, queryset: QuerySet[MailTemplate]) -> None:
        kinds = list(queryset.values_list("kind", flat=True))
        for kind in kinds:
            mail_template_reset(kind=kind)
        self.message_user(request, f"{len(kinds)} template(s) reset.", messages.INFO)


@admin.register(MailPreference)
class MailPreferenceAdmin(admin.ModelAdmin[MailPreference]):
    list_display = ("user", "muted", "updated_at")
    search_fields = ("user__email",)
    raw_id_fields = ("user",)


@admin.register(Mailbox)
class MailboxAdmin(SimpleHistoryAdmin):  # type: ignore[misc]  # simple_history is untyped
    list_display = ("name", "username", "host", "port", "folder", "active", "last_polled_at")
    list_filter = ("active",)
    readonly_fields = ("last_polled_at", "last_error")
    actions = ("poll_now",)

    @admin.action(description="Poll the selected mailboxes now")
    def poll_now(self, request: HttpRequest, queryset: QuerySet[Mailbox]) -> None:
        from tickets.mail.imap import mailbox_poll

        for mailbox in queryset:
            result = mailbox_poll(mailbox=mailbox)
            level = messages.WARNING if result.error else messages.INFO
            self.message_user(
                request,
                f"{mailbox.name}: {result.taken} message(s) taken. {result.error}".strip(),
                level,
            )
