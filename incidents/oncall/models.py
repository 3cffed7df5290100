"""On-call schedules: layers of rotations, overrides on top, and handoff notes.

The arithmetic (who is on call when) is in incidents.oncall.rotation, pure; every write is
in incidents.oncall.services; the reads others use are in incidents.oncall.selectors.
"""

from __future__ import annotations

from datetime import time
from typing import ClassVar

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from communities.models import validate_time_zone
from incidents.oncall.rotation import MAX_CUSTOM_MINUTES, MIN_CUSTOM_MINUTES


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class Schedule(models.Model):
    """Who is on call, when: ordered layers of rotations with overrides on top.

    Primary and backup are two schedules: the backup names the schedule it backs up."""

    name = models.CharField(max_length=100, unique=True)
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    description = models.TextField(blank=True)
    backup_of = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="backups",
        help_text="This schedule is the backup of that one (who is called when it is stuck).",
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ("name",)
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=~Q(backup_of=F("id")),
                name="schedule_not_its_own_backup",
                violation_error_message="A schedule cannot be its own backup.",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ShiftKind(models.TextChoices):
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"
    CUSTOM = "custom", "Custom length"


class Layer(models.Model):
    """One rotation of a schedule. Where layers overlap, the higher position wins where it
    has someone; where it has nobody (outside its restrictions), the layers below show."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="layers")
    name = models.CharField(max_length=100)
    position = models.PositiveIntegerField(
        default=0, help_text="Higher positions win where they have someone on call."
    )
    kind = models.CharField(max_length=10, choices=ShiftKind.choices, default=ShiftKind.WEEKLY)
    shift_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(MIN_CUSTOM_MINUTES), MaxValueValidator(MAX_CUSTOM_MINUTES)],
        help_text="Custom length only: how long each shift lasts, in minutes of wall-clock time.",
    )
    handoff_weekday = models.PositiveSmallIntegerField(
        choices=Weekday.choices, default=Weekday.MONDAY, help_text="Weekly rotations only."
    )
    handoff_time = models.TimeField(
        default=time(9), help_text="Wall-clock time in the schedule's zone (daily and weekly)."
    )
    starts_at = models.DateTimeField(
        default=timezone.now,
        help_text="The rotation counts from here: the first participant's shift starts now.",
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ("schedule", "position", "pk")
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["schedule", "position"],
                name="layer_position_unique",
                violation_error_message="Another layer of this schedule has this position.",
            ),
            models.UniqueConstraint(
                fields=["schedule", "name"],
                name="layer_name_unique",
                violation_error_message="Another layer of this schedule has this name.",
            ),
            models.CheckConstraint(
                condition=Q(handoff_weekday__gte=0, handoff_weekday__lte=6),
                name="layer_weekday_valid",
            ),
            models.CheckConstraint(
                condition=~Q(kind="custom")
                | Q(shift_minutes__gte=MIN_CUSTOM_MINUTES, shift_minutes__lte=MAX_CUSTOM_MINUTES),
                name="layer_custom_length_valid",
                violation_error_message="A custom shift needs a length of at least "
                f"{MIN_CUSTOM_MINUTES} minutes.",
                violation_error_code="zero_length",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.schedule} · {self.name}"


class LayerParticipant(models.Model):
    """A person in a layer's rotation, in turn order."""

    layer = models.ForeignKey(Layer, on_delete=models.CASCADE, related_name="participants")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="oncall_turns"
    )
    position = models.PositiveIntegerField(default=0)
    history = HistoricalRecords()

    class Meta:
        ordering = ("layer", "position")
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["layer", "position"], name="participant_turn_unique"),
            models.UniqueConstraint(fields=["layer", "user"], name="participant_once_per_layer"),
        ]

    def __str__(self) -> str:
        return f"{self.position + 1}. {self.user}"


class LayerRestriction(models.Model):
    """A window in which the layer has someone on call (a layer without windows always has).
    00:00 → 00:00 with `ends_next_day` is the whole day."""

    layer = models.ForeignKey(Layer, on_delete=models.CASCADE, related_name="restrictions")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    start = models.TimeField()
    end = models.TimeField()
    ends_next_day = models.BooleanField(
        default=False, help_text="The window crosses midnight (22:00 → 06:00)."
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ("layer", "weekday", "start")
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(weekday__gte=0, weekday__lte=6), name="restriction_weekday_valid"
            ),
            models.CheckConstraint(
                condition=Q(ends_next_day=True) | Q(end__gt=F("start")),
                name="restriction_has_length",
                violation_error_message="The window ends when or before it starts; tick "
                "“ends next day” if it crosses midnight.",
            ),
            models.CheckConstraint(
                condition=Q(ends_next_day=False) | Q(end__lte=F("start")),
                name="restriction_at_most_a_day",
                violation_error_message="A window that ends the next day ends no later than "
                "it started.",
            ),
        ]

    def __str__(self) -> str:
        after = " (next day)" if self.ends_next_day else ""
        return f"{Weekday(self.weekday).label} {self.start:%H:%M}–{self.end:%H:%M}{after}"


class Override(models.Model):
    """Someone on call from `start` to `end`, over every layer; the latest wins on overlap."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="overrides")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="oncall_overrides"
    )
    start = models.DateTimeField()
    end = models.DateTimeField()
    reason = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)
    history = HistoricalRecords()

    class Meta:
        ordering = ("schedule", "start", "pk")
        indexes: ClassVar = [models.Index(fields=["schedule", "end"], name="override_by_end")]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(end__gt=F("start")),
                name="override_ends_after_start",
                violation_error_message="An override ends after it starts.",
                violation_error_code="end_before_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} on {self.schedule} {self.start:%Y-%m-%d %H:%M}–{self.end:%Y-%m-%d %H:%M} UTC"


class HandoffNote(models.Model):
    """What the outgoing person hands over at a handoff (the seed 002 handoff note template:
    open incidents, pending issues in the queue, ongoing situations to watch, follow-ups for
    the incoming person), and when the incoming person read it."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="handoff_notes")
    handoff_at = models.DateTimeField(help_text="The instant the outgoing shift ends.")
    outgoing = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="handoffs_given"
    )
    incoming = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="handoffs_taken",
    )
    active_incidents = models.TextField(
        blank=True, help_text="Open incidents and pages: where each stands, who is on it."
    )
    pending_issues = models.TextField(
        blank=True, help_text="Tickets in the queue still waiting, and why."
    )
    ongoing_situations = models.TextField(
        blank=True, help_text="Anything still unfolding to keep an eye on (deploys, load, alerts)."
    )
    follow_ups = models.TextField(
        blank=True, help_text="What the incoming person should do or ask about first."
    )
    written_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    written_at = models.DateTimeField(default=timezone.now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ("-handoff_at",)
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["schedule", "handoff_at"],
                name="one_note_per_handoff",
                violation_error_message="This handoff already has a note.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.schedule} handoff {self.handoff_at:%Y-%m-%d %H:%M} UTC"
