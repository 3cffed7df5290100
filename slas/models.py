"""Business calendars, SLA policies, and the clocks that run on each ticket.

The arithmetic is in slas.business_time (pure); every write is in slas.services; the
sweeper that warns and breaches is slas.services.sweep.
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone
from simple_history.models import HistoricalRecords

from communities.models import validate_time_zone
from slas.business_time import WEEKDAYS
from tickets.models import Severity, TicketKind
from tickets.states import TicketStatus


class Weekday(models.IntegerChoices):
    MONDAY = 0, WEEKDAYS[0]
    TUESDAY = 1, WEEKDAYS[1]
    WEDNESDAY = 2, WEEKDAYS[2]
    THURSDAY = 3, WEEKDAYS[3]
    FRIDAY = 4, WEEKDAYS[4]
    SATURDAY = 5, WEEKDAYS[5]
    SUNDAY = 6, WEEKDAYS[6]


class BusinessCalendar(models.Model):
    """When the desk works: weekly intervals and holidays in a time zone, or around the clock.

    A calendar is assigned to service plans (PlanCalendar) and, overriding the plan's, to
    communities (CommunityCalendar); the default calendar serves everything else.
    """

    name = models.CharField(max_length=100, unique=True)
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    around_the_clock = models.BooleanField(
        default=False, help_text="Every hour of every day counts (24/7); holidays are ignored."
    )
    is_default = models.BooleanField(
        default=False, help_text="Used when neither the community nor its plan has a calendar."
    )
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    history = HistoricalRecords()

    class Meta:
        ordering = ("name",)
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="one_default_calendar"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class WorkingInterval(models.Model):
    """Working time on one weekday. 00:00 -> 00:00 with `ends_next_day` is the whole day."""

    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.CASCADE, related_name="intervals"
    )
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    start = models.TimeField()
    end = models.TimeField()
    ends_next_day = models.BooleanField(
        default=False, help_text="The interval crosses midnight (22:00 → 06:00, 00:00 → 00:00)."
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ("weekday", "start")
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(weekday__gte=0, weekday__lte=6), name="interval_weekday_valid"
            ),
            models.CheckConstraint(
                condition=Q(ends_next_day=True) | Q(end__gt=F("start")),
                name="interval_ends_after_start",
            ),
            models.CheckConstraint(
                condition=Q(ends_next_day=False) | Q(end__lte=F("start")),
                name="interval_at_most_a_day",
            ),
        ]

    def __str__(self) -> str:
        after = " (next day)" if self.ends_next_day else ""
        return f"{Weekday(self.weekday).label} {self.start:%H:%M}–{self.end:%H:%M}{after}"


class Holiday(models.Model):
    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.CASCADE, related_name="holidays"
    )
    day = models.DateField()
    name = models.CharField(max_length=200, blank=True)
    yearly = models.BooleanField(default=False, help_text="Every year on this month and day.")
    active = models.BooleanField(
        default=True, help_text="Switch off a holiday the desk works on after all."
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ("day", "name")
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["calendar", "day", "name"], name="holiday_once"),
        ]

    def __str__(self) -> str:
        return f"{self.day:%Y-%m-%d} {self.name}".strip()


class PlanCalendar(models.Model):
    """The calendar a service plan's clocks run on (communities never import slas)."""

    plan = models.OneToOneField(
        "communities.ServicePlan", on_delete=models.CASCADE, related_name="+"
    )
    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.PROTECT, related_name="+")

    def __str__(self) -> str:
        return f"{self.plan} → {self.calendar}"


class CommunityCalendar(models.Model):
    """A community's own calendar, which overrides its plan's."""

    community = models.OneToOneField(
        "communities.Community", on_delete=models.CASCADE, related_name="+"
    )
    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.PROTECT, related_name="+")

    def __str__(self) -> str:
        return f"{self.community} → {self.calendar}"


def _positive_or_null(field: str) -> models.CheckConstraint:
    return models.CheckConstraint(
        condition=Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__gt": 0}),
        name=f"policy_{field}_positive",
        violation_error_message="Targets and warnings are positive numbers of minutes.",
        violation_error_code="not_positive",
    )


class SLAPolicy(models.Model):
    """Targets for the tickets it matches. Policies are tried in `position` order and the
    first whose conditions all hold applies; an empty condition matches anything."""

    name = models.CharField(max_length=100)
    position = models.PositiveIntegerField(default=0, help_text="Lower positions are tried first.")
    active = models.BooleanField(
        default=True, help_text="Switching a policy off cancels the clocks it runs."
    )
    # Conditions.
    service_plan = models.ForeignKey(
        "communities.ServicePlan",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty: any plan.",
    )
    severity = models.CharField(
        max_length=10, choices=Severity.choices, blank=True, help_text="Empty: any severity."
    )
    kind = models.CharField(
        max_length=20, choices=TicketKind.choices, blank=True, help_text="Empty: any kind."
    )
    community = models.ForeignKey(
        "communities.Community",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty: any community.",
    )
    # Targets, in minutes; empty: no such target. Business time follows the ticket's calendar.
    first_response_minutes = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)]
    )
    first_response_business = models.BooleanField(
        default=True, help_text="Counted in business time (otherwise around the clock)."
    )
    next_update_minutes = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)]
    )
    next_update_business = models.BooleanField(default=True)
    resolution_minutes = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)]
    )
    resolution_business = models.BooleanField(default=True)
    # Warning: a share of the target, or minutes before the due time.
    warn_percent = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        default=75,
        validators=[MinValueValidator(1), MaxValueValidator(99)],
        help_text="Warn when this share of the target has been used (1-99).",
    )
    warn_minutes_before = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Or: warn this many minutes before the due time.",
    )
    notify_around_the_clock = models.BooleanField(
        default=False,
        help_text="Send warnings at any hour (24/7 support); otherwise they wait for the "
        "calendar's working hours.",
    )
    pause_when_pending = models.BooleanField(
        default=True, help_text="Pending planned work pauses next update and resolution."
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    history = HistoricalRecords()

    class Meta:
        ordering = ("position", "id")
        verbose_name = "SLA policy"
        verbose_name_plural = "SLA policies"
        constraints: ClassVar = [
            _positive_or_null("first_response_minutes"),
            _positive_or_null("next_update_minutes"),
            _positive_or_null("resolution_minutes"),
            _positive_or_null("warn_minutes_before"),
            models.CheckConstraint(
                condition=Q(warn_percent__isnull=True)
                | Q(warn_percent__gt=0, warn_percent__lt=100),
                name="policy_warn_percent_in_range",
                violation_error_message="The warning share is between 0 and 100 %, exclusive.",
                violation_error_code="out_of_range",
            ),
            models.CheckConstraint(
                condition=Q(warn_percent__isnull=True) | Q(warn_minutes_before__isnull=True),
                name="policy_one_warning_rule",
                violation_error_message="Warn at a share of the target or minutes before the "
                "due time, not both.",
                violation_error_code="two_warning_rules",
            ),
            models.CheckConstraint(
                condition=Q(first_response_minutes__isnull=False)
                | Q(next_update_minutes__isnull=False)
                | Q(resolution_minutes__isnull=False),
                name="policy_has_a_target",
                violation_error_message="A policy needs at least one target.",
                violation_error_code="no_target",
            ),
            models.CheckConstraint(
                condition=Q(severity__in=["", *Severity.values]), name="policy_severity_valid"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["", *TicketKind.values]), name="policy_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Metric(models.TextChoices):
    FIRST_RESPONSE = "first_response", "First response"
    NEXT_UPDATE = "next_update", "Next update"
    RESOLUTION = "resolution", "Resolution"


class ClockState(models.TextChoices):
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    BREACHED = "breached", "Breached"
    MET = "met", "Met"
    CANCELLED = "cancelled", "Cancelled"


# A clock that still counts: at most one per ticket and metric.
ACTIVE_STATES = (ClockState.RUNNING, ClockState.PAUSED, ClockState.BREACHED)


class TicketSLA(models.Model):
    """What the clocks know of a ticket: the policy that matched and why, and the ticket as
    of the last audit event replayed (`last_event_id`), so that events delivered twice or
    out of order are applied once, in order."""

    ticket = models.OneToOneField(
        "tickets.Ticket", on_delete=models.CASCADE, primary_key=True, related_name="sla"
    )
    policy = models.ForeignKey(
        SLAPolicy, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    match_reason = models.TextField(blank=True)
    plan = models.ForeignKey(
        "communities.ServicePlan", on_delete=models.SET_NULL, null=True, related_name="+"
    )
    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    last_event_id = models.BigIntegerField(default=0)
    status = models.CharField(max_length=20, choices=TicketStatus.choices, blank=True)
    severity = models.CharField(max_length=10, choices=Severity.choices, blank=True)
    kind = models.CharField(max_length=20, choices=TicketKind.choices, blank=True)
    # The oldest public message from the customer's side that no public staff reply has
    # answered yet (the ticket's description counts, as the first message).
    awaiting_reply_since = models.DateTimeField(null=True, blank=True)
    # When the desk last took the ticket on (opened, approved, reopened): a next-update clock
    # never starts before it.
    working_since = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "ticket SLA"

    def __str__(self) -> str:
        return f"SLA of ticket {self.ticket_id}"


def _state_check(state: str, condition: Q, name: str) -> models.CheckConstraint:
    return models.CheckConstraint(condition=~Q(state=state) | condition, name=name)


class SLATarget(models.Model):
    """One clock of one ticket: its targets copied from the policy when it was armed (so
    that editing a policy never silently moves it), when it started and is due, its pauses,
    and what became of it."""

    # Looked up by ticket through one_active_sla_target_per_metric (ticket first).
    ticket = models.ForeignKey(
        "tickets.Ticket", on_delete=models.CASCADE, related_name="sla_targets", db_index=False
    )
    # The ticket's (which never changes): the sweeper's events and the reports need no join.
    community = models.ForeignKey(
        "communities.Community", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    metric = models.CharField(max_length=20, choices=Metric.choices)
    state = models.CharField(max_length=10, choices=ClockState.choices, default=ClockState.RUNNING)
    # No index on these three: every breach would pay for keeping them, and they are read
    # only by rare admin actions (a policy switched off, a calendar or plan deleted).
    policy = models.ForeignKey(
        SLAPolicy,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="targets",
        db_index=False,
    )
    calendar = models.ForeignKey(
        BusinessCalendar,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    # The conditions it ran under, for reports.
    plan = models.ForeignKey(
        "communities.ServicePlan",
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        db_index=False,
    )
    severity = models.CharField(max_length=10, choices=Severity.choices, blank=True)
    # Copied from the policy.
    target_minutes = models.PositiveIntegerField()
    business = models.BooleanField(default=True)
    warn_percent = models.PositiveSmallIntegerField(null=True, blank=True)
    warn_minutes_before = models.PositiveIntegerField(null=True, blank=True)
    notify_around_the_clock = models.BooleanField(default=False)
    pause_when_pending = models.BooleanField(default=True)
    # The clock.
    started_at = models.DateTimeField()
    due_at = models.DateTimeField()
    warn_at = models.DateTimeField(null=True, blank=True)
    paused_since = models.DateTimeField(null=True, blank=True)
    # Paused time so far, in the target's own measure (business or wall-clock seconds), and
    # the closed pauses themselves ([start, end] ISO pairs), to recompute from the start.
    paused_seconds = models.BigIntegerField(default=0)
    pauses = models.JSONField(default=list, blank=True)
    warned_at = models.DateTimeField(null=True, blank=True)
    breached_at = models.DateTimeField(null=True, blank=True)
    met_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    # Time used when it was met, pauses excluded, in the target's measure (for reports).
    used_seconds = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("ticket", "created_at", "id")
        verbose_name = "SLA target"
        constraints: ClassVar = [
            # At most one active clock per ticket and metric: inactive clocks have NULL in the
            # third column, and NULLs never collide. Not a partial index: this one also
            # serves every lookup by ticket, so the table needs no second index on ticket,
            # which every clock write would have to maintain too (`state` is indexed, so no
            # update of a clock is HOT; the figures are in docs/slas.md, "The sweeper").
            models.UniqueConstraint(
                F("ticket"),
                F("metric"),
                Case(When(state__in=ACTIVE_STATES, then=Value(True))),
                name="one_active_sla_target_per_metric",
                violation_error_message="The ticket already has an active clock for this metric.",
            ),
            models.CheckConstraint(
                condition=Q(metric__in=Metric.values), name="sla_target_metric_valid"
            ),
            models.CheckConstraint(
                condition=Q(state__in=ClockState.values), name="sla_target_state_valid"
            ),
            models.CheckConstraint(
                condition=Q(target_minutes__gt=0), name="sla_target_minutes_positive"
            ),
            models.CheckConstraint(
                condition=Q(due_at__gte=F("started_at")), name="sla_target_due_after_start"
            ),
            models.CheckConstraint(
                condition=Q(paused_seconds__gte=0), name="sla_target_paused_not_negative"
            ),
            _state_check("running", Q(paused_since__isnull=True), "sla_running_not_paused"),
            _state_check("paused", Q(paused_since__isnull=False), "sla_paused_has_since"),
            _state_check("breached", Q(breached_at__isnull=False), "sla_breached_has_time"),
            _state_check("met", Q(met_at__isnull=False), "sla_met_has_time"),
            _state_check("cancelled", Q(cancelled_at__isnull=False), "sla_cancelled_has_time"),
        ]
        indexes: ClassVar = [
            # The sweeper reads only what is due: running clocks by due time...
            models.Index(fields=["due_at"], condition=Q(state="running"), name="sla_target_due"),
            # ...and running clocks whose warning has not gone out, by warning time. With the
            # due time in the key, the warning pass rules out in the index itself the clocks
            # past their due time (breached instead, or just breached: their old row versions
            # stay in the index until vacuum) without reading their rows.
            models.Index(
                fields=["warn_at", "due_at"],
                condition=Q(state="running", warned_at__isnull=True, warn_at__isnull=False),
                name="sla_target_warn_due",
            ),
            models.Index(fields=["started_at"], name="sla_target_started"),
        ]

    def __str__(self) -> str:
        return f"{self.get_metric_display()} of ticket {self.ticket_id} ({self.state})"


class ClockEvent(models.Model):
    """The history of a clock: armed, paused, resumed, warned, breached, met, cancelled,
    recomputed (with why), reopened."""

    class Kind(models.TextChoices):
        ARMED = "armed", "Armed"
        PAUSED = "paused", "Paused"
        RESUMED = "resumed", "Resumed"
        WARNED = "warned", "Warned"
        BREACHED = "breached", "Breached"
        MET = "met", "Met"
        CANCELLED = "cancelled", "Cancelled"
        RECOMPUTED = "recomputed", "Recomputed"
        REOPENED = "reopened", "Reopened"

    target = models.ForeignKey(SLATarget, on_delete=models.CASCADE, related_name="events")
    # Always the target's ticket (copied by both writers, replay and the sweep), indexed with
    # `at` below. No foreign-key constraint: the target's own constraints already tie it to
    # the ticket, and checking this one at commit locked a random ticket row for every
    # breach the sweep records (a fifth of a 10,000-breach sweep; docs/slas.md). Deleting a
    # ticket still deletes its clocks' history (CASCADE is Django's, through both paths).
    ticket = models.ForeignKey(
        "tickets.Ticket",
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    kind = models.CharField(max_length=12, choices=Kind.choices)
    at = models.DateTimeField()
    # Not looked up by.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("at", "id")
        constraints: ClassVar = [
            # A clock warns once and breaches once, whatever runs the sweep and how often.
            models.UniqueConstraint(
                fields=["target", "kind"],
                condition=Q(kind__in=["warned", "breached"]),
                name="clock_warns_and_breaches_once",
            ),
            models.CheckConstraint(
                condition=Q(
                    kind__in=[
                        "armed",
                        "paused",
                        "resumed",
                        "warned",
                        "breached",
                        "met",
                        "cancelled",
                        "recomputed",
                        "reopened",
                    ]
                ),
                name="clock_event_kind_valid",
            ),  # fmt: skip
        ]
        indexes: ClassVar = [models.Index(fields=["ticket", "at"], name="clock_event_ticket_at")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.target_id})"
