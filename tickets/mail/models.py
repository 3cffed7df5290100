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
    DMARC_FAIL = "dmarc_fail", "The sender's domain failed DMARC"
    DISCARDED = "discarded", "Discarded by staff"


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


# ---------------------------------------------------------------- outbound


class MailKind(models.TextChoices):
    """What an outgoing mail is about; one template each."""

    REQUEST_RECEIVED = "request_received", "Request received (acknowledgement)"
    APPROVAL_REQUESTED = "approval_requested", "Approval requested (to representatives)"
    APPROVED = "approved", "Request approved"
    DECLINED = "declined", "Request declined"
    STAFF_REPLY = "staff_reply", "A reply from the support team"
    RESOLVED = "resolved", "Resolved (satisfaction survey)"
    MERGED = "merged", "Merged into another ticket"
    ATTACHMENT_REFUSED = "attachment_refused", "Attachments not accepted"
    UNKNOWN_SENDER = "unknown_sender", "Refusal to an unknown sender"
    PAGING = "paging", "Paging notification"
    THRESHOLD_CROSSED = "threshold_crossed", "A report figure missed its threshold"
    BUDGET_NOTICE = "budget_notice", "A support budget reached 80 % or 100 %"
    WEEKLY_SUMMARY = "weekly_summary", "The weekly support summary"
    MONTHLY_SUMMARY = "monthly_summary", "The monthly summary of my community"


class OutboundStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    SUPPRESSED = "suppressed", "Suppressed"


class OutboundMail(models.Model):
    """One mail to one recipient, sent exactly once per cause (`dedup_key`) and recipient."""

    kind = models.CharField(max_length=30, choices=MailKind.choices)
    dedup_key = models.CharField(
        max_length=200, help_text="The cause: an event, a delivery, an inbound message, a report."
    )
    recipient = models.CharField(max_length=320)
    ticket = models.ForeignKey(
        "tickets.Ticket",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="outbound_mail",
    )
    subject = models.CharField(max_length=998)
    text = models.TextField()
    html = models.TextField(blank=True)
    message_id = models.CharField(max_length=998, unique=True)
    in_reply_to = models.CharField(max_length=998, blank=True)
    references = models.TextField(blank=True)
    reply_to = models.CharField(max_length=320, blank=True)
    auto_submitted = models.BooleanField(
        default=True, help_text="Automatic mail carries Auto-Submitted: auto-generated."
    )
    status = models.CharField(
        max_length=10, choices=OutboundStatus.choices, default=OutboundStatus.QUEUED
    )
    reason = models.CharField(max_length=300, blank=True, help_text="Why it was suppressed.")
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "outbound mail"
        ordering: ClassVar = ["-created_at", "-id"]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["dedup_key", "recipient"], name="outboundmail_once_per_cause"
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=MailKind.values), name="outboundmail_kind_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=OutboundStatus.values),
                name="outboundmail_status_valid",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="suppressed") | ~models.Q(reason=""),
                name="outboundmail_suppressed_says_why",
            ),
        ]
        indexes: ClassVar = [
            # The sweeper's scan: queued (or sending past its lease) and due.
            models.Index(
                fields=["next_attempt_at"],
                name="outboundmail_due_idx",
                condition=models.Q(status__in=["queued", "sending"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} to {self.recipient} ({self.status})"


class MailTemplate(models.Model):
    """The subject, text and HTML of one kind of mail, edited in the admin. The defaults
    ship in templates/tickets/email/ and the admin can put them back."""

    kind = models.CharField(max_length=30, choices=MailKind.choices, unique=True)
    subject = models.CharField(max_length=300)
    text = models.TextField()
    html = models.TextField(blank=True, help_text="Empty: the mail is sent as text only.")
    updated_at = models.DateTimeField(default=timezone.now)
    history = HistoricalRecords()

    def __str__(self) -> str:
        return self.get_kind_display()


class MailPreference(models.Model):
    """The notification mails a person chose not to get."""

    user = models.OneToOneField(
        "core.User", on_delete=models.CASCADE, related_name="mail_preference"
    )
    muted = models.JSONField(default=list, blank=True, help_text="Mail kinds not wanted.")
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.user_id}: {', '.join(self.muted) or 'everything'}"


# ---------------------------------------------------------------- IMAP


class Mailbox(models.Model):
    """An IMAP mailbox the desk polls. The password is never stored here: `password_name`
    names an entry of the MAIL_MAILBOX_PASSWORDS setting (or an environment variable)."""

    class Security(models.TextChoices):
        SSL = "ssl", "TLS (IMAPS)"
        STARTTLS = "starttls", "STARTTLS"
        NONE = "none", "None (local test servers only)"

    name = models.CharField(max_length=100, unique=True)
    host = models.CharField(max_length=255)
    port = models.PositiveIntegerField(default=993)
    security = models.CharField(max_length=10, choices=Security.choices, default=Security.SSL)
    username = models.CharField(max_length=255)
    password_name = models.CharField(
        max_length=100,
        help_text="The key of MAIL_MAILBOX_PASSWORDS (or the environment variable) that "
        "holds the password.",
    )
    folder = models.CharField(max_length=255, default="INBOX")
    move_to = models.CharField(
        max_length=255, blank=True, help_text="Move taken messages here; empty: mark them Seen."
    )
    active = models.BooleanField(default=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name_plural = "mailboxes"

    def __str__(self) -> str:
        return f"{self.name} ({self.username}@{self.host})"
