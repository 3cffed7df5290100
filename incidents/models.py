"""Incidents: severity definitions and cadences, services and components, the incident with
its roles, communities, linked tickets and timeline, status updates and their fan-out,
reminders (one row per cause and due time), postmortems and action items, and each plan's
maintenance allowance for the uptime figures."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from core.models import values_check
from incidents.states import PRIORITY, Degree, Level, Status


class SeverityDefinition(models.Model):
    """What a severity means and its communication cadence (seed 001 §6, §7.3)."""

    level = models.CharField(max_length=4, choices=Level.choices, unique=True)
    name = models.CharField(max_length=60)
    description = models.TextField(blank=True)
    who_is_told = models.CharField(max_length=300, blank=True)
    update_minutes = models.PositiveIntegerField(
        default=60, help_text="A public update is due this often while active (0: no cadence)."
    )
    first_update_minutes = models.PositiveIntegerField(
        default=15,
        help_text="The communications lead is reminded if no public update is sent this soon "
        "after declaring.",
    )
    postmortem_required = models.BooleanField(default=True)
    postmortem_due_hours = models.PositiveIntegerField(
        default=24, help_text="The postmortem is due this long after resolution."
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ("level",)
        constraints: ClassVar = [values_check("level", Level.values, "severity_definition_level")]

    def __str__(self) -> str:
        return f"{self.level} ({self.priority}) {self.name}"

    @property
    def priority(self) -> str:
        return PRIORITY[Level(self.level)]


class Service(models.Model):
    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    position = models.PositiveSmallIntegerField(default=0)
    history = HistoricalRecords()

    class Meta:
        ordering = ("position", "name")

    def __str__(self) -> str:
        return self.name


class Component(models.Model):
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="components")
    name = models.CharField(max_length=100)
    active = models.BooleanField(default=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ("service__position", "service__name", "name")
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["service", "name"], name="component_once_per_service")
        ]

    def __str__(self) -> str:
        return f"{self.service.name} / {self.name}"


class AllowancePeriod(models.TextChoices):
    WEEK = "week", "Per week"
    MONTH = "month", "Per month"


class MaintenanceAllowance(models.Model):
    """Planned maintenance a plan allows (seed 001 §2.1: 4-hour weekly … 10-hour monthly);
    maintenance within it is not downtime."""

    plan = models.OneToOneField(
        "communities.ServicePlan", on_delete=models.CASCADE, related_name="maintenance_allowance"
    )
    minutes = models.PositiveIntegerField()
    period = models.CharField(max_length=5, choices=AllowancePeriod.choices)
    history = HistoricalRecords()

    class Meta:
        constraints: ClassVar = [
            values_check("period", AllowancePeriod.values, "maintenance_allowance_period")
        ]

    def __str__(self) -> str:
        return f"{self.plan}: {self.minutes} min {self.get_period_display().lower()}"


class TemplateKind(models.TextChoices):
    INITIAL = "initial", "Initial notification"
    UPDATE = "update", "Status update"
    RESOLUTION = "resolution", "Resolution"


class UpdateTemplate(models.Model):
    """A message the update composer offers, with [Variables] filled in from the incident."""

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=12, choices=TemplateKind.choices)
    source = models.CharField(max_length=100, blank=True, help_text="Where it comes from.")
    body = models.TextField()
    position = models.PositiveSmallIntegerField(default=0)
    active = models.BooleanField(default=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ("position", "name")
        constraints: ClassVar = [values_check("kind", TemplateKind.values, "update_template_kind")]

    def __str__(self) -> str:
        return self.name


class Incident(models.Model):
    title = models.CharField(max_length=200)
    summary = models.TextField(blank=True, help_text="Internal: what is known.")
    severity = models.CharField(max_length=4, choices=Level.choices)
    status = models.CharField(max_length=15, choices=Status.choices, default=Status.INVESTIGATING)
    maintenance = models.BooleanField(default=False, help_text="Planned work, not an outage.")
    declared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    declared_at = models.DateTimeField(default=timezone.now)
    impact_started_at = models.DateTimeField()
    detected_at = models.DateTimeField()
    mitigated_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    commander = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    technical_lead = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    communications_lead = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    page = models.ForeignKey(
        "paging.Page", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Communication: when the next public update is due (None without a cadence or once
    # resolved), when the first public one went out, and when the postmortem is due.
    next_update_due_at = models.DateTimeField(null=True, blank=True)
    first_public_update_at = models.DateTimeField(null=True, blank=True)
    first_update_due_at = models.DateTimeField(null=True, blank=True)
    postmortem_due_at = models.DateTimeField(null=True, blank=True)
    key = models.CharField(
        max_length=200, blank=True, help_text="Declaring twice with one key declares once."
    )
    updated_at = models.DateTimeField(default=timezone.now)
    history = HistoricalRecords()

    class Meta:
        ordering = ("-declared_at", "-id")
        constraints: ClassVar = [
            values_check("status", Status.values, "incident_status_valid"),
            values_check("severity", Level.values, "incident_severity_valid"),
            models.UniqueConstraint(fields=["key"], condition=~Q(key=""), name="incident_key_once"),
            models.CheckConstraint(
                condition=Q(detected_at__gte=models.F("impact_started_at")),
                name="incident_detected_after_start",
            ),
            models.CheckConstraint(
                condition=Q(resolved_at__isnull=True) | Q(resolved_at__gte=models.F("detected_at")),
                name="incident_resolved_after_detected",
            ),
            models.CheckConstraint(
                condition=Q(mitigated_at__isnull=True)
                | Q(mitigated_at__gte=models.F("impact_started_at")),
                name="incident_mitigated_after_start",
            ),
        ]
        indexes: ClassVar = [
            models.Index(
                fields=["next_update_due_at"],
                condition=Q(status__in=["investigating", "identified", "monitoring"]),
                name="incident_update_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.title}"

    @property
    def reference(self) -> str:
        return f"INC-{self.pk}"

    @property
    def priority(self) -> str:
        return PRIORITY[Level(self.severity)]

    @property
    def is_active(self) -> bool:
        return self.status in ("investigating", "identified", "monitoring")


class IncidentCommunity(models.Model):
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="affected")
    community = models.ForeignKey(
        "communities.Community", on_delete=models.PROTECT, related_name="incident_links"
    )
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("community__name",)
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["incident", "community"], name="incident_community_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.incident_id} affects {self.community_id}"


class IncidentComponent(models.Model):
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="impacts")
    component = models.ForeignKey(Component, on_delete=models.PROTECT, related_name="+")
    degree = models.CharField(max_length=15, choices=Degree.choices)

    class Meta:
        ordering = ("component__service__name", "component__name")
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["incident", "component"], name="incident_component_once"
            ),
            values_check("degree", Degree.values, "incident_component_degree"),
        ]

    def __str__(self) -> str:
        return f"{self.component_id}: {self.degree}"


class IncidentTicket(models.Model):
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="ticket_links")
    ticket = models.ForeignKey(
        "tickets.Ticket", on_delete=models.CASCADE, related_name="incident_links"
    )
    linked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    linked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("linked_at", "id")
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["incident", "ticket"], name="incident_ticket_once")
        ]

    def __str__(self) -> str:
        return f"{self.incident_id} ↔ {self.ticket_id}"


class EntryKind(models.TextChoices):
    DECLARED = "declared", "Declared"
    STATUS = "status", "Status changed"
    SEVERITY = "severity", "Severity changed"
    ROLE = "role", "Role assigned"
    COMMUNITY = "community", "Community affected"
    COMPONENT = "component", "Component affected"
    TICKET = "ticket", "Ticket linked"
    PAGE = "page", "Paged"
    UPDATE = "update", "Status update"
    TIMES = "times", "Times changed"
    FIELDS = "fields", "Details changed"
    NOTE = "note", "Note"
    POSTMORTEM = "postmortem", "Postmortem"
    ACTION_ITEM = "action_item", "Action item"
    REMINDER = "reminder", "Reminder"


class TimelineEntry(models.Model):
    """One thing that happened. `at` is when it happened (a note's can be set to reconstruct
    the story); internal entries are for the desk only."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="timeline")
    kind = models.CharField(max_length=15, choices=EntryKind.choices)
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    text = models.TextField()
    public = models.BooleanField(default=False)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("at", "id")
        verbose_name_plural = "timeline entries"
        constraints: ClassVar = [values_check("kind", EntryKind.values, "timeline_entry_kind")]
        indexes: ClassVar = [models.Index(fields=["incident", "at"], name="timeline_order")]

    def __str__(self) -> str:
        return self.text[:80]


class StatusUpdate(models.Model):
    """A public message with the incident's status at that moment. Posting it is quick: its
    fan-out (representatives, linked tickets) is done by workers."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="updates")
    status = models.CharField(max_length=15, choices=Status.choices)
    body = models.TextField()
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    key = models.CharField(max_length=200, blank=True)
    fanout_done_at = models.DateTimeField(null=True, blank=True)
    tickets_total = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ("-created_at", "-id")
        constraints: ClassVar = [
            values_check("status", Status.values, "status_update_status"),
            models.UniqueConstraint(
                fields=["incident", "key"], condition=~Q(key=""), name="status_update_key_once"
            ),
        ]
        indexes: ClassVar = [
            models.Index(
                fields=["created_at"],
                condition=Q(fanout_done_at__isnull=True),
                name="status_update_fanout_open",
            )
        ]

    def __str__(self) -> str:
        return self.body[:80]


class UpdateReply(models.Model):
    """One linked ticket's copy of one update: made once (unique), sent once (message)."""

    update = models.ForeignKey(StatusUpdate, on_delete=models.CASCADE, related_name="replies")
    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey(
        "tickets.Message", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["update", "ticket"], name="update_reply_once")
        ]
        indexes: ClassVar = [
            models.Index(fields=["update"], condition=Q(sent_at__isnull=True), name="reply_unsent")
        ]

    def __str__(self) -> str:
        return f"update {self.update_id} on ticket {self.ticket_id}"


class ReminderKind(models.TextChoices):
    UPDATE_DUE = "update_due", "Status update due"
    FIRST_UPDATE = "first_update", "No public update yet"
    POSTMORTEM_DUE = "postmortem_due", "Postmortem due"


class Reminder(models.Model):
    """A reminder, made once per incident, cause and due time (the unique constraint), and
    sent once (`sent_at`)."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="reminders")
    kind = models.CharField(max_length=15, choices=ReminderKind.choices)
    due_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("due_at", "id")
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["incident", "kind", "due_at"], name="reminder_once"),
            values_check("kind", ReminderKind.values, "reminder_kind"),
        ]
        indexes: ClassVar = [
            models.Index(
                fields=["created_at"], condition=Q(sent_at__isnull=True), name="reminder_unsent"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} at {self.due_at:%Y-%m-%d %H:%M}"


class Postmortem(models.Model):
    """A blameless review (seed 002's template)."""

    incident = models.OneToOneField(Incident, on_delete=models.CASCADE, related_name="postmortem")
    summary = models.TextField(blank=True)
    impact = models.TextField(blank=True)
    timeline = models.TextField(blank=True, help_text="Imported from the incident's timeline.")
    root_cause = models.TextField(blank=True)
    contributing_factors = models.TextField(blank=True)
    went_well = models.TextField(blank=True)
    went_badly = models.TextField(blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    updated_at = models.DateTimeField(default=timezone.now)
    history = HistoricalRecords()

    def __str__(self) -> str:
        return f"Postmortem of INC-{self.incident_id}"

    SECTIONS: ClassVar = (
        ("summary", "Summary"),
        ("impact", "Impact"),
        ("timeline", "Timeline"),
        ("root_cause", "Root cause"),
        ("contributing_factors", "Contributing factors"),
        ("went_well", "What went well"),
        ("went_badly", "What did not go well"),
    )


class ActionStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"
    DEFERRED = "deferred", "Deferred"


class ActionItem(models.Model):
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="action_items")
    title = models.CharField(max_length=300)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    due_date = models.DateField(null=True, blank=True)
    status = models.CharField(
        max_length=12, choices=ActionStatus.choices, default=ActionStatus.OPEN
    )
    deferred_reason = models.TextField(blank=True)
    ticket = models.ForeignKey(
        "tickets.Ticket", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    history = HistoricalRecords()

    class Meta:
        ordering = ("due_date", "id")
        constraints: ClassVar = [
            values_check("status", ActionStatus.values, "action_item_status"),
            models.CheckConstraint(
                condition=~Q(status="deferred") | ~Q(deferred_reason=""),
                name="action_item_deferred_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return self.title
