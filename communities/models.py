"""Communities, who belongs to them, what they are promised and how much help they have left."""

from __future__ import annotations

import zoneinfo
from typing import ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(
            "%(value)s is not an IANA time zone such as Europe/Paris.",
            code="invalid_time_zone",
            params={"value": value},
        )


class ServicePlan(models.Model):
    """What a community is promised: uptime, and the credit owed when it is missed."""

    name = models.CharField(max_length=50, unique=True)
    slug = models.SlugField(max_length=50, unique=True)
    position = models.PositiveSmallIntegerField(default=0, help_text="Order in lists.")
    uptime_guarantee = models.DecimalField(
        max_digits=5,
        decimal_places=3,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text="Percent of the month, e.g. 99.900.",
    )
    downtime_credit_percent = models.PositiveSmallIntegerField(
        help_text="Credit, in percent of the monthly fee, when the guarantee is missed."
    )
    maintenance_window = models.CharField(max_length=100, blank=True)
    description = models.TextField(blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ("position", "name")
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=models.Q(uptime_guarantee__gte=0, uptime_guarantee__lte=100),
                name="plan_uptime_is_a_percentage",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Community(models.Model):
    name = models.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    service_plan = models.ForeignKey(
        ServicePlan, on_delete=models.PROTECT, related_name="communities"
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    history = HistoricalRecords()

    class Meta:
        ordering = ("name",)
        verbose_name_plural = "communities"

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A person's place in a community. Representatives open tickets directly and approve
    the requests of other members (seed 004)."""

    class Role(models.TextChoices):
        REPRESENTATIVE = "representative", "Representative"
        MEMBER = "member", "Member"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    community = models.ForeignKey(Community, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(default=timezone.now)
    history = HistoricalRecords()

    class Meta:
        ordering = ("community__name", "user__email")
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["user", "community"], name="membership_once"),
            models.CheckConstraint(
                condition=models.Q(role__in=["representative", "member"]),
                name="membership_role_valid",
            ),
        ]
        indexes: ClassVar = [models.Index(fields=["community", "role"])]

    def __str__(self) -> str:
        return f"{self.user} in {self.community} ({self.get_role_display()})"

    @property
    def is_representative(self) -> bool:
        return self.role == self.Role.REPRESENTATIVE


class SupportBudget(models.Model):
    """Hours the team can sustainably spend on a community's non-incident requests per period."""

    class Period(models.TextChoices):
        MONTH = "month", "Month"
        QUARTER = "quarter", "Quarter"
        YEAR = "year", "Year"

    community = models.OneToOneField(
        Community, on_delete=models.CASCADE, related_name="support_budget"
    )
    hours = models.DecimalField(max_digits=7, decimal_places=2, validators=[MinValueValidator(0)])
    period = models.CharField(max_length=10, choices=Period.choices, default=Period.MONTH)
    history = HistoricalRecords()

    class Meta:
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=models.Q(hours__gte=0), name="budget_hours_not_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(period__in=["month", "quarter", "year"]),
                name="budget_period_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.community}: {self.hours} h per {self.period}"


class TimeEntry(models.Model):
    """Minutes an agent spent on a ticket, counted against its community's budget."""

    ticket = models.ForeignKey(
        "tickets.Ticket", on_delete=models.PROTECT, related_name="time_entries"
    )
    # Copied from the ticket so budget sums need no join; the service keeps them equal.
    community = models.ForeignKey(Community, on_delete=models.PROTECT, related_name="time_entries")
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="time_entries"
    )
    minutes = models.PositiveIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(24 * 60)]
    )
    note = models.CharField(max_length=500, blank=True)
    worked_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now)
    history = HistoricalRecords()

    class Meta:
        verbose_name_plural = "time entries"
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=models.Q(minutes__gte=1, minutes__lte=24 * 60),
                name="time_entry_minutes_in_a_day",
            ),
        ]
        indexes: ClassVar = [models.Index(fields=["community", "worked_at"])]

    def __str__(self) -> str:
        return f"{self.minutes} min on ticket {self.ticket_id} by {self.agent}"
