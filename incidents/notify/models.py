"""Notification rules per person, and each notification and delivery attempt.

A person's contact methods (email addresses, phone numbers, webhook URLs) and their
notification rules ("for important notifications: email now, SMS after 1 minute") decide
what one `Notification` becomes: one `Delivery` per rule step, each due at its own time.
Deliveries are sent by workers (incidents.notify.sending) and the sweeper; a desk delivery
becomes a `DeskNotification` in the person's desk list.
"""

from __future__ import annotations

import re
from typing import ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

# E.164: a plus sign, a country code that does not start with 0, at most 15 digits in all.
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


class Importance(models.TextChoices):
    DEFAULT = "default", "Default"
    IMPORTANT = "important", "Important"


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"
    WEBHOOK = "webhook", "Webhook"
    DESK = "desk", "Desk notification"


class ContactKind(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"
    WEBHOOK = "webhook", "Webhook"


def validate_phone_number(value: str) -> None:
    if not E164.match(value):
        raise ValidationError(
            "Enter the number in international (E.164) form, e.g. +4915112345678.",
            code="invalid_phone",
        )


def validate_webhook_url(value: str) -> None:
    """An https URL (plain http only to the hosts PAGING_WEBHOOK_HTTP_HOSTS lists)."""
    try:
        URLValidator(schemes=["http", "https"])(value)
    except ValidationError as exc:
        raise ValidationError("Enter a valid https URL.", code="invalid_url") from exc
    if value.startswith("https://"):
        return
    host = value.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[0]
    if host not in settings.PAGING_WEBHOOK_HTTP_HOSTS:
        raise ValidationError("The URL must start with https://.", code="not_https")


def validate_address(kind: str, address: str) -> None:
    """The address fits its kind; raises ValidationError on `address` otherwise."""
    try:
        if kind == ContactKind.EMAIL:
            EmailValidator(message="Enter a valid email address.")(address)
        elif kind == ContactKind.SMS:
            validate_phone_number(address)
        elif kind == ContactKind.WEBHOOK:
            validate_webhook_url(address)
        else:
            raise ValidationError({"kind": "Choose email, SMS or webhook."})
    except ValidationError as exc:
        if hasattr(exc, "error_dict"):
            raise
        raise ValidationError({"address": exc.messages}) from exc


class ContactMethod(models.Model):
    """Where a person can be reached: an email address, a phone number, a webhook URL."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="contact_methods"
    )
    kind = models.CharField(max_length=10, choices=ContactKind.choices)
    address = models.CharField(
        max_length=500, help_text="Email address, phone number (+4915112345678) or https URL."
    )
    label = models.CharField(max_length=100, blank=True)
    secret = models.CharField(
        max_length=200,
        blank=True,
        help_text="Webhooks: the key their HMAC-SHA256 signature is made with "
        "(PAGING_WEBHOOK_SECRET when empty).",
    )
    created_at = models.DateTimeField(default=timezone.now)
    history = HistoricalRecords(excluded_fields=["secret"])

    class Meta:
        ordering = ("kind", "label", "id")
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["user", "kind", "address"], name="contact_method_once"),
            models.CheckConstraint(
                condition=Q(kind__in=ContactKind.values), name="contact_method_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        name = self.label or self.address
        return f"{self.get_kind_display()}: {name}"

    def clean(self) -> None:
        validate_address(self.kind, self.address)


class NotificationRule(models.Model):
    """One step of a person's rules: for `importance`, reach them on `channel` after
    `delay_minutes`. Steps run in `position` order; every step is sent (each at its own
    time) unless the notification's source cancels what is still pending."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_rules"
    )
    importance = models.CharField(
        max_length=10, choices=Importance.choices, default=Importance.DEFAULT
    )
    position = models.PositiveSmallIntegerField(default=0)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    delay_minutes = models.PositiveIntegerField(
        default=0, help_text="Minutes after the notification is made."
    )
    contact_method = models.ForeignKey(
        ContactMethod,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="rules",
        help_text="Email: your account's address when empty. SMS and webhook: your first "
        "phone number or webhook when empty.",
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ("user", "importance", "position", "id")
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["user", "importance", "position"],
                name="rule_position_once",
                # Reordering swaps positions inside one transaction.
                deferrable=models.Deferrable.DEFERRED,
            ),
            models.CheckConstraint(
                condition=Q(delay_minutes__gte=0), name="rule_delay_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(channel__in=Channel.values), name="rule_channel_valid"
            ),
            models.CheckConstraint(
                condition=Q(importance__in=Importance.values), name="rule_importance_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_importance_display()} #{self.position}: {self.get_channel_display()} after {self.delay_minutes} min"

    def clean(self) -> None:
        errors: dict[str, str] = {}
        method = self.contact_method
        if method is not None:
            if self.channel == Channel.DESK:
                errors["contact_method"] = "Desk notifications need no contact method."
            elif method.kind != self.channel:
                errors["contact_method"] = (
                    f"Choose a {self.get_channel_display()} contact method for this channel."
                )
            elif self.user_id is not None and method.user_id != self.user_id:
                errors["contact_method"] = "Choose one of your own contact methods."
        if errors:
            raise ValidationError(errors)


class Notification(models.Model):
    """Something to tell a person (or, with no recipient, a plain outgoing webhook).
    `key` makes it idempotent: the same key twice is the same notification."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="notifications",
    )
    subject = models.CharField(max_length=300)
    body = models.TextField(blank=True)
    importance = models.CharField(
        max_length=10, choices=Importance.choices, default=Importance.DEFAULT
    )
    key = models.CharField(max_length=200, unique=True)
    source = models.CharField(max_length=50, blank=True)
    source_id = models.BigIntegerField(null=True, blank=True)
    # [[label, url], …]: a list, because the order of the links matters (jsonb would sort
    # an object's keys). `links` gives them as the dict callers pass in.
    actions = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes: ClassVar = [
            models.Index(fields=["source", "source_id"], name="notification_source"),
        ]

    def __str__(self) -> str:
        return self.subject

    @property
    def links(self) -> dict[str, str]:
        return {str(label): str(url) for label, url in self.actions or []}


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class Delivery(models.Model):
    """One step of a notification on one channel, and its attempts.

    `next_attempt_at` is when the sweeper may take the row: the due time (or the next
    retry) while pending, the end of the lease while sending (a worker that died mid-send
    gives it back that way). The partial index on it covers exactly the rows the sweeper
    looks at.
    """

    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, related_name="deliveries"
    )
    step = models.PositiveSmallIntegerField(default=0)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    address = models.CharField(max_length=500, blank=True)
    contact_method = models.ForeignKey(
        ContactMethod, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Webhooks: the body to send (plain webhooks), and the key to sign it with when it is
    # not the contact method's.
    payload = models.JSONField(null=True, blank=True)
    signing_secret = models.CharField(max_length=200, blank=True)
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    due_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # When the current attempt's sending began; empty while a claimed delivery waits for its
    # worker, so that of two copies of its task only one takes it.
    started_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    provider_response = models.TextField(blank=True)
    provider_id = models.CharField(max_length=200, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=250, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "deliveries"
        ordering = ("notification_id", "step", "id")
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(status__in=DeliveryStatus.values), name="delivery_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(channel__in=Channel.values), name="delivery_channel_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status="sent") | Q(sent_at__isnull=False),
                name="delivery_sent_has_time",
            ),
        ]
        indexes: ClassVar = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status__in=["pending", "sending"]),
                name="delivery_sweep_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} to {self.address or '-'} ({self.status})"


class DeskNotification(models.Model):
    """A notification in a person's desk list, made when its desk delivery is sent."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="desk_notifications"
    )
    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, related_name="desk_entries"
    )
    delivery = models.OneToOneField(Delivery, on_delete=models.CASCADE, related_name="desk_entry")
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes: ClassVar = [
            models.Index(fields=["user", "-created_at"], name="desk_notification_list"),
            # The header's unread badge counts from this one.
            models.Index(fields=["user"], condition=Q(read_at__isnull=True), name="desk_unread"),
        ]

    def __str__(self) -> str:
        return f"{self.notification} for {self.user}"
