"""Escalation policies, pages and their timelines, maintenance windows.

A page runs its policy's steps in order (`Page.step_index` is the next step to run,
`Page.repeat` how many times the policy's repeat step has sent it back). The engine in
incidents.paging.services.engine moves that pointer with a conditional UPDATE, so each step
runs exactly once per (page, step, repeat) whoever runs it (a scheduled task, the sweeper,
both at once).
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from communities.models import validate_time_zone
from core.models import values_check
from tickets.models import Severity

MAX_REPEATS = 10


class CauseKind(models.TextChoices):
    CRITICAL_TICKET = "critical_ticket", "Critical ticket"
    SLA_BREACH = "sla_breach", "SLA breach"
    INCIDENT = "incident", "Incident"
    INTEGRATION = "integration", "Integration"


class PageState(models.TextChoices):
    TRIGGERED = "triggered", "Triggered"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"


class Importance(models.TextChoices):
    DEFAULT = "default", "Default"
    IMPORTANT = "important", "Important"


class EscalationPolicy(models.Model):
    """Ordered steps that page people until someone acknowledges, then a fallback."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    fallback_users = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="+",
        help_text="Notified once the steps (and their repeats) are exhausted.",
    )
    fallback_team = models.ForeignKey(
        "routing.Team",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Everyone in this team is notified after the last repeat.",
    )
    reminder_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Remind whoever acknowledged a page that is still open after this many "
        "minutes; empty: never.",
    )
    reminder_confirm_minutes = models.PositiveIntegerField(
        default=15,
        validators=[MinValueValidator(1)],
        help_text="A reminder not confirmed within this many minutes puts the page back "
        "to triggered.",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    history = HistoricalRecords(m2m_fields=[fallback_users], excluded_fields=["updated_at"])

    class Meta:
        ordering = ("name",)
        verbose_name_plural = "escalation policies"
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(reminder_minutes__isnull=True) | Q(reminder_minutes__gt=0),
                name="policy_reminder_positive",
            ),
            models.CheckConstraint(
                condition=Q(reminder_confirm_minutes__gt=0), name="policy_reminder_confirm_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class StepKind(models.TextChoices):
    NOTIFY_ON_CALL = "notify_on_call", "Notify whoever is on call"
    NOTIFY_USERS = "notify_users", "Notify people"
    NOTIFY_TEAM = "notify_team", "Notify a team"
    WAIT = "wait", "Wait"
    TIME_WINDOW = "time_window", "Continue only within a time window"
    WEBHOOK = "webhook", "Call a webhook"
    RESOLVE = "resolve", "Resolve automatically"
    REPEAT = "repeat", "Repeat from an earlier step"


NOTIFY_KINDS = (StepKind.NOTIFY_ON_CALL, StepKind.NOTIFY_USERS, StepKind.NOTIFY_TEAM)


class OnCallWhen(models.TextChoices):
    NOW = "now", "On call now (nobody: skip)"
    NEXT = "next", "On call now, or else the next to come on call"


class TeamMode(models.TextChoices):
    EVERYONE = "everyone", "Everyone"
    ROUND_ROBIN = "round_robin", "One member, round-robin across pages"


def _kind_has(kind: str, condition: Q, name: str, message: str) -> models.CheckConstraint:
    return models.CheckConstraint(
        condition=~Q(kind=kind) | condition,
        name=name,
        violation_error_message=message,
        violation_error_code=name,
    )


class EscalationStep(models.Model):
    """One step of a policy. Only the fields of its kind are used (and the check
    constraints keep them so)."""

    policy = models.ForeignKey(EscalationPolicy, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField(help_text="Steps run in position order.")
    kind = models.CharField(max_length=20, choices=StepKind.choices)
    important = models.BooleanField(
        default=False, help_text="Notify with the person's rules for important pages."
    )
    # notify_on_call; also the on-call person whose local time a time_window uses.
    schedule = models.ForeignKey(
        "oncall.Schedule", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    on_call_when = models.CharField(
        max_length=4, choices=OnCallWhen.choices, default=OnCallWhen.NOW, blank=True
    )
    # notify_users
    users = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    # notify_team
    team = models.ForeignKey(
        "routing.Team", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    team_mode = models.CharField(
        max_length=12, choices=TeamMode.choices, default=TeamMode.EVERYONE, blank=True
    )
    # wait
    wait_minutes = models.PositiveIntegerField(null=True, blank=True)
    # time_window: ISO weekdays (1 Monday … 7 Sunday), local hours [starts, ends).
    window_weekdays = ArrayField(
        models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(7)]),
        default=list,
        blank=True,
        help_text="ISO weekdays (1 Monday … 7 Sunday). Empty: every day.",
    )
    window_starts = models.TimeField(null=True, blank=True)
    window_ends = models.TimeField(null=True, blank=True, help_text="May be past midnight.")
    window_time_zone = models.CharField(
        max_length=64,
        default="UTC",
        validators=[validate_time_zone],
        help_text="Used when the step names no schedule.",
    )
    # webhook
    webhook_url = models.URLField(blank=True)
    webhook_secret = models.CharField(max_length=200, blank=True)
    # repeat: go back to the step at `repeat_from` (a position before this one), K times.
    repeat_from = models.PositiveSmallIntegerField(null=True, blank=True)
    repeat_times = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(MAX_REPEATS)]
    )
    history = HistoricalRecords(m2m_fields=[users])

    class Meta:
        ordering = ("policy", "position")
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["policy", "position"], name="step_position_once"),
            values_check("kind", StepKind.values, "step_kind_valid"),
            values_check("on_call_when", OnCallWhen.values, "step_on_call_when_valid", blank=True),
            values_check("team_mode", TeamMode.values, "step_team_mode_valid", blank=True),
            _kind_has(
                "notify_on_call",
                Q(schedule__isnull=False),
                "step_on_call_needs_schedule",
                "Name the schedule whose on-call person is notified.",
            ),
            _kind_has(
                "notify_team",
                Q(team__isnull=False),
                "step_team_needs_team",
                "Name the team to notify.",
            ),
            _kind_has(
                "wait",
                Q(wait_minutes__isnull=False, wait_minutes__gt=0),
                "step_wait_positive",
                "A wait is a positive number of minutes.",
            ),
            _kind_has(
                "time_window",
                Q(window_starts__isnull=False, window_ends__isnull=False)
                & ~Q(window_starts=F("window_ends")),
                "step_window_hours",
                "A time window needs its start and end hours, and they differ.",
            ),
            _kind_has(
                "webhook", ~Q(webhook_url=""), "step_webhook_url", "A webhook step needs a URL."
            ),
            _kind_has(
                "repeat",
                Q(repeat_times__isnull=False, repeat_times__gte=1, repeat_times__lte=MAX_REPEATS),
                "step_repeat_times_range",
                f"Repeat 1 to {MAX_REPEATS} times.",
            ),
            _kind_has(
                "repeat",
                Q(repeat_from__isnull=False, repeat_from__lt=F("position")),
                "step_repeat_goes_back",
                "A repeat goes back to a step before itself.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.policy}: {self.position}. {self.get_kind_display()}"

    @property
    def notifies(self) -> bool:
        return self.kind in NOTIFY_KINDS

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.kind == StepKind.NOTIFY_ON_CALL and self.schedule_id is None:
            errors["schedule"] = "Name the schedule whose on-call person is notified."
        if self.kind == StepKind.NOTIFY_TEAM and self.team_id is None:
            errors["team"] = "Name the team to notify."
        if self.kind == StepKind.WAIT and not self.wait_minutes:
            errors["wait_minutes"] = "A wait is a positive number of minutes."
        if self.kind == StepKind.TIME_WINDOW:
            if self.window_starts is None:
                errors["window_starts"] = "When the window opens (local time)."
            if self.window_ends is None:
                errors["window_ends"] = "When the window closes (local time)."
            elif self.window_starts == self.window_ends:
                errors["window_ends"] = "The window closes at another hour than it opens."
        if self.kind == StepKind.WEBHOOK and not self.webhook_url:
            errors["webhook_url"] = "A webhook step needs a URL."
        if self.kind == StepKind.REPEAT:
            if self.repeat_times is None or not 1 <= self.repeat_times <= MAX_REPEATS:
                errors["repeat_times"] = f"Repeat 1 to {MAX_REPEATS} times."
            if self.repeat_from is None:
                errors["repeat_from"] = "Which step to repeat from."
            elif self.position is not None and self.repeat_from >= self.position:
                errors["repeat_from"] = "A repeat goes back to a step before itself."
        if errors:
            raise ValidationError(errors)


class TeamCursor(models.Model):
    """Where round-robin paging of a team stands: the member paged last."""

    team = models.OneToOneField(
        "routing.Team", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    last_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Round-robin of team {self.team_id}"


class PolicyRoute(models.Model):
    """Which policy pages for a cause. Routes are tried in position order; the first whose
    conditions hold applies (empty severity or community: any)."""

    position = models.PositiveIntegerField(default=100, help_text="Lower is tried first.")
    cause = models.CharField(max_length=20, choices=CauseKind.choices)
    severity = models.CharField(
        max_length=10, choices=Severity.choices, blank=True, help_text="Empty: any severity."
    )
    community = models.ForeignKey(
        "communities.Community",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty: any community.",
    )
    policy = models.ForeignKey(EscalationPolicy, on_delete=models.PROTECT, related_name="routes")
    active = models.BooleanField(default=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ("position", "id")
        constraints: ClassVar = [
            values_check("cause", CauseKind.values, "route_cause_valid"),
            values_check("severity", Severity.values, "route_severity_valid", blank=True),
        ]

    def __str__(self) -> str:
        return f"{self.get_cause_display()} {self.severity or 'any'} → {self.policy}"


class MaintenanceWindow(models.Model):
    """Pages opened inside the window, for its community or service, are recorded and
    notify nobody."""

    community = models.ForeignKey(
        "communities.Community", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    service = models.CharField(
        max_length=100, blank=True, help_text="An integration's service name (alert label)."
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    reason = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    history = HistoricalRecords()

    class Meta:
        ordering = ("-starts_at",)
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")),
                name="maintenance_ends_after_start",
                violation_error_code="ends_before_start",
                violation_error_message="A maintenance window ends after it starts.",
            ),
            models.CheckConstraint(
                condition=Q(community__isnull=False) | ~Q(service=""),
                name="maintenance_has_a_scope",
                violation_error_code="no_scope",
                violation_error_message="Name the community or the service under maintenance.",
            ),
        ]
        indexes: ClassVar = [models.Index(fields=["ends_at"], name="maintenance_ends_at")]

    def __str__(self) -> str:
        what = self.service or str(self.community)
        return f"Maintenance of {what} {self.starts_at:%Y-%m-%d %H:%M}–{self.ends_at:%H:%M}"

    def clean(self) -> None:
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValidationError({"ends_at": "A maintenance window ends after it starts."})
        if self.community_id is None and not self.service:
            raise ValidationError("Name the community or the service under maintenance.")


class Page(models.Model):
    """Someone has to look at something: triggered → acknowledged → resolved."""

    cause = models.CharField(max_length=20, choices=CauseKind.choices)
    dedup_key = models.CharField(max_length=255)
    title = models.CharField(max_length=300)
    details = models.TextField(blank=True)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    service = models.CharField(max_length=100, blank=True)
    ticket = models.ForeignKey(
        "tickets.Ticket",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # page_ticket
    )
    community = models.ForeignKey(
        "communities.Community", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    policy = models.ForeignKey(
        EscalationPolicy, on_delete=models.PROTECT, null=True, blank=True, related_name="pages"
    )
    state = models.CharField(max_length=12, choices=PageState.choices, default=PageState.TRIGGERED)
    # The engine's pointer: the index (in position order) of the next step to run, and how
    # many times the repeat step has sent the page back.
    step_index = models.PositiveSmallIntegerField(default=0)
    repeat = models.PositiveSmallIntegerField(default=0)
    next_escalation_at = models.DateTimeField(null=True, blank=True)
    # The sweeper handed the page to a worker; not again before this (a lease).
    dispatched_until = models.DateTimeField(null=True, blank=True)
    escalation_done = models.BooleanField(
        default=False, help_text="Every step, repeat and the fallback have run."
    )
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    silenced_until = models.DateTimeField(null=True, blank=True)
    # Acknowledged and still open: remind the acknowledger at remind_at; once reminded
    # (reminded_at), a reminder not confirmed by remind_at puts the page back to triggered.
    remind_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    reminders = models.PositiveSmallIntegerField(default=0)
    trigger_count = models.PositiveIntegerField(default=1)
    last_triggered_at = models.DateTimeField(default=timezone.now)
    in_maintenance = models.BooleanField(default=False)
    # What the integration sent (Alertmanager labels, annotations...), for the timeline.
    source_data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-created_at", "-id")
        constraints: ClassVar = [
            # A second trigger with the same key attaches to the open page.
            models.UniqueConstraint(
                fields=["dedup_key"],
                condition=~Q(state="resolved"),
                name="page_dedup_key_open_once",
            ),
            values_check("cause", CauseKind.values, "page_cause_valid"),
            values_check("state", PageState.values, "page_state_valid"),
            values_check("severity", Severity.values, "page_severity_valid"),
            models.CheckConstraint(
                condition=~Q(state="acknowledged") | Q(acknowledged_at__isnull=False),
                name="page_acknowledged_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(state="resolved") | Q(resolved_at__isnull=False),
                name="page_resolved_has_time",
            ),
            models.CheckConstraint(
                condition=Q(state="triggered") | Q(next_escalation_at__isnull=True),
                name="page_escalates_only_when_triggered",
            ),
            models.CheckConstraint(
                condition=Q(state="acknowledged") | Q(remind_at__isnull=True),
                name="page_reminds_only_when_acknowledged",
            ),
            models.CheckConstraint(
                condition=Q(repeat__lte=MAX_REPEATS), name="page_repeat_in_range"
            ),
            models.CheckConstraint(condition=Q(trigger_count__gte=1), name="page_triggered_once"),
        ]
        indexes: ClassVar = [
            # The sweeper's: only triggered pages with a step to run are in it.
            models.Index(
                fields=["next_escalation_at"],
                condition=Q(state="triggered", next_escalation_at__isnull=False),
                name="page_escalation_due",
            ),
            models.Index(
                fields=["remind_at"],
                condition=Q(state="acknowledged", remind_at__isnull=False),
                name="page_reminder_due",
            ),
            # Lists: open pages first, newest first.
            models.Index(
                fields=["-created_at", "-id"], condition=~Q(state="resolved"), name="page_open"
            ),
            models.Index(fields=["-created_at", "-id"], name="page_newest"),
            models.Index(fields=["ticket"], name="page_ticket"),
        ]

    def __str__(self) -> str:
        return f"Page {self.pk}: {self.title}"

    @property
    def is_open(self) -> bool:
        return self.state != PageState.RESOLVED


class Via(models.TextChoices):
    LINK = "link", "Signed link"
    DESK = "desk", "Desk"
    API = "api", "API"
    SYSTEM = "system", "System"
    EMAIL = "email", "Email"
    INTEGRATION = "integration", "Integration"
    ADMIN = "admin", "Admin"


class PageEventKind(models.TextChoices):
    TRIGGERED = "triggered", "Triggered"
    RETRIGGERED = "retriggered", "Triggered again"
    MAINTENANCE = "maintenance", "Recorded during maintenance"
    UNROUTED = "unrouted", "No policy"
    STEP = "step", "Step"
    NOTIFIED = "notified", "Notified"
    NOBODY = "nobody", "Nobody to notify"
    WAITING = "waiting", "Waiting"
    OUTSIDE_WINDOW = "outside_window", "Outside the time window"
    WEBHOOK = "webhook", "Webhook called"
    REPEATED = "repeated", "Repeated"
    FALLBACK = "fallback", "Fallback notified"
    ESCALATED = "escalated", "Escalation finished"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    UNACKNOWLEDGED = "unacknowledged", "Unacknowledged"
    SILENCED = "silenced", "Silenced"
    REMINDED = "reminded", "Reminded"
    CONFIRMED = "confirmed", "Reminder confirmed"
    RESOLVED = "resolved", "Resolved"


class PageEvent(models.Model):
    """The page's timeline: every notification and action, who did it and from where."""

    page = models.ForeignKey(Page, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=PageEventKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    via = models.CharField(max_length=12, choices=Via.choices, default=Via.SYSTEM)
    detail = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("at", "id")
        constraints: ClassVar = [
            values_check("kind", PageEventKind.values, "page_event_kind_valid"),
            values_check("via", Via.values, "page_event_via_valid"),
        ]
        indexes: ClassVar = [models.Index(fields=["page", "at"], name="page_event_page_at")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} (page {self.page_id})"
