"""Inbound mail as received, the Message-IDs that thread replies, and the support addresses.

`InboundMessage` keeps every message the desk was handed, raw, with what became of it: a
ticket, a reply on a ticket, or a refusal, hold or quarantine with its reason. Its
Message-ID is unique, which is what makes intake exactly-once. `MailThread` maps every
Message-ID the desk received or sent to its ticket, so that a reply's In-Reply-To or
References finds the ticket without touching `tickets.Message`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from simple_history.models import HistoricalRecords


class Source(models.TextChoices):
    COMMAND = "command", "Command (ingest_email)"
    HTTP = "http", "HTTP endpoint"
    IMAP = "imap", "IMAP mailbox"


class Status(models.TextChoices):
    TICKET_OPENED = "ticket_opened", "Ticket opened"
    REPLY_ADDED = "reply_added", "Reply added"
    REFUSED = "refused", "Refused"
    HELD = "held", "Held"
    QUARANTINED = "quarantined", "Quarantined"


class Reason(models.TextChoices):
    """Why a message made no ticket and no reply (blank for those that did)."""

    BOUNCE = "bounce", "Bounce or delivery notification"
    AUTO_REPLY = "auto_reply", "Automatic reply"
    MAILING_LIST = "mailing_list", "Mailing-list mail"
    LOOP = "loop", "Sent by the desk itself"
    NO_SENDER = "no_sender", "No usable sender address"
    UNKNOWN_SENDER = "unknown_sender", "Unknown sender"
    NO_COMMUNITY = "no_community", "Sender belongs to no community this address serves"
    AMBIGUOUS_COMMUNITY = "ambiguous_community", "Sender belongs to several communities"
    NOT_ALLOWED = "not_allowed", "Not allowed on that ticket"
    TICKET_CLOSED = "ticket_closed", "Ticket closed"
    RATE_LIMITED = "rate_limited", "Too many messages from this sender"
    INVALID = "invalid", "Request refused by the ticket rules"
    PARSE_ERROR = "parse_error", "Could not be processed"


class InboundMessage(models.Model):
    raw = models.BinaryField(help_text="The message exactly as received.")
    message_id = models.CharField(
        max_length=998,
        unique=True,
        help_text="The Message-ID header, or one derived from the bytes when it has none.",
    )
    source = models.CharField(max_length=10, choices=Source.choices)
    received_at = models.DateTimeField(default=timezone.now)
    from_address = models.CharField(max_length=320, blank=True)
    recipients = models.JSONField(default=list, blank=True)
    subject = models.CharField(max_length=998, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices)
    reason = models.CharField(max_length=30, choices=Reason.choices, blank=True)
    detail = models.TextField(blank=True, help_text="What the reason means for this message.")
    ticket = models.ForeignKey(
        "tickets.Ticket",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="inbound_mail",
    )
    ticket_message = models.ForeignKey(
        "tickets.Message",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="inbound_mail",
    )
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=1)

    class Meta:
        ordering: ClassVar = ["-received_at", "-id"]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=models.Q(source__in=Source.values), name="inbound_source_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=Status.values), name="inbound_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(reason="") | models.Q(reason__in=Reason.values),
                name="inbound_reason_valid",
            ),
            # A ticket or reply names what it made; anything else says why it made nothing.
            models.CheckConstraint(
                condition=(
                    models.Q(status="ticket_opened", ticket__isnull=False)
                    | models.Q(status="reply_added", ticket_message__isnull=False)
                    | (
                        models.Q(status__in=["refused", "held", "quarantined"])
                        & ~models.Q(reason="")
                    )
                ),
                name="inbound_outcome_explained",
            ),
        ]
        indexes: ClassVar = [
            models.Index(fields=["status", "received_at"]),
            # The flood guard counts one sender's recent mail (addresses are stored lower-case).
            models.Index(fields=["from_address", "received_at"], name="inbound_sender_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.message_id} ({self.status})"


class MailThread(models.Model):
    """One Message-ID the desk received or sent, and the ticket it belongs to."""

    class Direction(models.TextChoices):
        IN = "in", "Received"
        OUT = "out", "Sent"

    message_id = models.CharField(max_length=998, unique=True)
    ticket = models.ForeignKey(
        "tickets.Ticket", on_delete=models.CASCADE, related_name="mail_threads"
    )
    direction = models.CharField(max_length=3, choices=Direction.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=models.Q(direction__in=["in", "out"]), name="mailthread_direction_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.message_id} -> ticket {self.ticket_id}"


class SupportAddress(models.Model):
    """An address the desk receives mail at; mail to it belongs to its community, if any."""

    address = models.EmailField(max_length=254)
    community = models.ForeignKey(
        "communities.Community",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="support_addresses",
        help_text="Mail to this address opens tickets in this community. Empty: decided by "
        "the sender's membership.",
    )
    active = models.BooleanField(default=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name_plural = "support addresses"
        constraints: ClassVar = [
            models.UniqueConstraint(Lower("address"), name="supportaddress_unique_ci"),
        ]

    def __str__(self) -> str:
        return self.address

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.address = self.address.strip().lower()
        super().save(*args, **kwargs)
