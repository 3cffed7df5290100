"""Tickets, their conversation, their files and their audit trail."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords

from core.models import values_check
from tickets.states import TicketStatus


class TicketKind(models.TextChoices):
    INCIDENT = "incident", "Incident"
    CHANGE_REQUEST = "change_request", "Change request"
    GUIDANCE_REQUEST = "guidance_request", "Guidance request"
    WORKSHOP_REQUEST = "workshop_request", "Workshop request"
    QUESTION = "question", "Question"


class Severity(models.TextChoices):
    CRITICAL = "critical", "Critical (P1)"
    HIGH = "high", "High (P2)"
    MEDIUM = "medium", "Medium (P3)"
    LOW = "low", "Low (P4)"


class Tier(models.TextChoices):
    SELF_SERVICE = "self_service", "Self service"
    COMMUNITY = "community", "Community"
    EXPERT = "expert", "Expert"
    ENGINEERING = "engineering", "Engineering"
    EMERGENCY = "emergency", "Emergency"


class Channel(models.TextChoices):
    PORTAL = "portal", "Portal"
    DESK = "desk", "Desk"
    EMAIL = "email", "Email"
    API = "api", "API"


def _choices_check(
    field: str, choices: type[models.TextChoices], name: str
) -> models.CheckConstraint:
    return values_check(field, choices.values, name)


class Category(models.Model):
    """What a ticket is about. Routing rules set it; routing may extend it with skills."""

    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=100, unique=True)
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children"
    )
    default_tier = models.CharField(max_length=20, choices=Tier.choices, default=Tier.COMMUNITY)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ("name",)
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return f"{self.parent} / {self.name}" if self.parent_id else self.name


# Tickets the desk still has to do something about: neither resolved nor closed, which most
# tickets are. Every queue of the desk's rail but "Recently resolved" holds only these, and the
# rail counts them from the partial index `ticket_unresolved_idx` (web.desk.queues).
UNRESOLVED = ~models.Q(status__in=[TicketStatus.RESOLVED, TicketStatus.CLOSED])


class Ticket(models.Model):
    # Ids start at 1001 (migration 0002) so that references look like SD-1042 from day one.
    community = models.ForeignKey(
        "communities.Community", on_delete=models.PROTECT, related_name="tickets"
    )
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="requested_tickets"
    )
    subject = models.CharField(max_length=200)
    description = models.TextField()
    kind = models.CharField(max_length=20, choices=TicketKind.choices, default=TicketKind.QUESTION)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.MEDIUM)
    tier = models.CharField(max_length=20, choices=Tier.choices, default=Tier.SELF_SERVICE)
    status = models.CharField(max_length=20, choices=TicketStatus.choices, default=TicketStatus.NEW)
    category = models.ForeignKey(
        Category, on_delete=models.SET_NULL, null=True, blank=True, related_name="tickets"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_tickets",
    )
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.PORTAL)
    tags = ArrayField(models.CharField(max_length=50), default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    status_changed_at = models.DateTimeField(default=timezone.now)
    first_responded_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    merged_into = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="merged_tickets"
    )
    # Seed 004's order of non-incident requests: the request comes with dedicated funding.
    funded = models.BooleanField(
        default=False, help_text="The request comes with dedicated funding (seed 004)."
    )
    # The budget-aware priority (reports.priority): higher first; written only by
    # reports.priority.ticket_priority_refresh, with the reasons the desk shows.
    priority_score = models.IntegerField(default=0)
    priority_reasons = models.JSONField(default=list, blank=True)
    search = models.GeneratedField(
        expression=SearchVector("subject", weight="A", config="english")
        + SearchVector("description", weight="B", config="english"),
        output_field=SearchVectorField(),
        db_persist=True,
    )
    history = HistoricalRecords(
        excluded_fields=["search", "updated_at", "priority_score", "priority_reasons"]
    )

    class Meta:
        constraints: ClassVar = [
            _choices_check("status", TicketStatus, "ticket_status_valid"),
            _choices_check("severity", Severity, "ticket_severity_valid"),
            _choices_check("tier", Tier, "ticket_tier_valid"),
            _choices_check("kind", TicketKind, "ticket_kind_valid"),
            _choices_check("channel", Channel, "ticket_channel_valid"),
        ]
        indexes: ClassVar = [
            models.Index(fields=["community", "status"]),
            models.Index(fields=["assignee", "status"]),
            models.Index(fields=["status", "created_at"]),
            models.Index(fields=["requester", "community"]),
            models.Index(fields=["created_at"]),
            GinIndex(fields=["search"], name="ticket_search_gin"),
            GinIndex(fields=["tags"], name="ticket_tags_gin"),
            # The desk rail's counts (web.desk.queues.queue_counts): an index-only scan of the
            # unresolved tickets with every column the queues' conditions read, and a range of
            # resolved_at for "Recently resolved", covering what the reports read of a range of
            # resolved tickets (reports.metrics: resolved, resolution, first contact).
            models.Index(
                fields=["status", "tier", "assignee"],
                include=["id"],
                condition=UNRESOLVED,
                name="ticket_unresolved_idx",
            ),
            models.Index(
                fields=["resolved_at"],
                include=["community", "created_at", "tier", "severity", "channel", "assignee"],
                condition=models.Q(resolved_at__isnull=False),
                name="ticket_resolved_at_idx",
            ),
            # The desk queue's default order (priority, then newest): one index scan.
            models.Index(fields=["priority_score", "id"], name="ticket_priority_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.subject}"

    @property
    def reference(self) -> str:
        return format_reference(self.pk)


def format_reference(ticket_id: int | None) -> str:
    return f"{settings.TICKET_REFERENCE_PREFIX}-{ticket_id}"


class Message(models.Model):
    class Kind(models.TextChoices):
        PUBLIC = "public", "Public reply"
        INTERNAL = "internal", "Internal note"

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="ticket_messages"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.PUBLIC)
    body = models.TextField()
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.PORTAL)
    created_at = models.DateTimeField(default=timezone.now)
    history = HistoricalRecords()

    class Meta:
        ordering = ("created_at", "id")
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=models.Q(kind__in=["public", "internal"]), name="message_kind_valid"
            ),
        ]
        indexes: ClassVar = [models.Index(fields=["ticket", "created_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {format_reference(self.ticket_id)}"

    @property
    def is_internal(self) -> bool:
        return self.kind == self.Kind.INTERNAL


def attachment_path(instance: Attachment, filename: str) -> str:
    # Content-addressed: the stored name says nothing of the uploaded one.
    return f"attachments/{instance.sha256[:2]}/{instance.sha256}"


class Attachment(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="attachments")
    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, null=True, blank=True, related_name="attachments"
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    file = models.FileField(upload_to=attachment_path, max_length=200)
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("created_at", "id")
        indexes: ClassVar = [models.Index(fields=["ticket", "created_at"])]

    def __str__(self) -> str:
        return self.filename


class TicketEvent(models.Model):
    """The audit trail: one row per change, written by tickets.events in the same transaction."""

    class Kind(models.TextChoices):
        OPENED = "opened", "Opened"
        STATUS_CHANGED = "status_changed", "Status changed"
        ASSIGNED = "assigned", "Assignee changed"
        UPDATED = "updated", "Fields changed"
        MESSAGE_ADDED = "message_added", "Message added"
        ATTACHMENT_ADDED = "attachment_added", "Attachment added"
        LINKED = "linked", "Linked to a ticket"
        UNLINKED = "unlinked", "Unlinked from a ticket"
        MERGED = "merged", "Merged"
        RATED = "rated", "Rated"

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("created_at", "id")
        indexes: ClassVar = [models.Index(fields=["ticket", "created_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {format_reference(self.ticket_id)}"


class TicketLink(models.Model):
    """Two tickets about related things: stored once (lower id first), shown on both."""

    from_ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="links_from")
    to_ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="links_to")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["from_ticket", "to_ticket"], name="ticket_link_once"),
            models.CheckConstraint(
                condition=models.Q(from_ticket__lt=models.F("to_ticket")),
                name="ticket_link_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{format_reference(self.from_ticket_id)} ~ {format_reference(self.to_ticket_id)}"


class Macro(models.Model):
    """A canned response for the composer. Placeholders such as {{ requester.first_name }}
    are filled by a restricted substitution (tickets.macros), never by a template engine."""

    name = models.CharField(max_length=100)
    body = models.TextField()
    kind = models.CharField(
        max_length=10, choices=Message.Kind.choices, default=Message.Kind.PUBLIC
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="macros",
        help_text="Leave empty to share the macro with every agent.",
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    history = HistoricalRecords()

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class SatisfactionRating(models.Model):
    """The requester's verdict on a resolution, asked once per resolution by a signed link."""

    class Score(models.TextChoices):
        GOOD = "good", "Good"
        BAD = "bad", "Bad"

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="ratings")
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    score = models.CharField(max_length=4, choices=Score.choices, blank=True)
    comment = models.TextField(blank=True)
    sent_at = models.DateTimeField(default=timezone.now)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-sent_at", "-id")
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["ticket"],
                condition=models.Q(answered_at__isnull=True),
                name="one_open_survey_per_ticket",
            ),
            models.CheckConstraint(
                condition=models.Q(answered_at__isnull=True, score="")
                | models.Q(answered_at__isnull=False, score__in=["good", "bad"]),
                name="survey_answered_with_a_score",
            ),
        ]

    def __str__(self) -> str:
        return f"{format_reference(self.ticket_id)}: {self.score or 'unanswered'}"
