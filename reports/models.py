"""What reporting keeps: targets and their crossings, support-budget periods and the notices
sent about them, and the daily roll-ups. The figures are defined over the other apps' rows
(reports.metrics); the roll-ups hold them per community and whole past day, so a dashboard
reads a row per day instead of every ticket (reports.rollups, docs/reporting.md)."""

from __future__ import annotations

from typing import ClassVar

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone

from core.models import values_check


class Direction(models.TextChoices):
    HIGHER = "higher", "Higher is better"
    LOWER = "lower", "Lower is better"


class TargetState(models.TextChoices):
    MET = "met", "Met"
    AT_RISK = "at_risk", "At risk"
    MISSED = "missed", "Missed"
    NO_DATA = "no_data", "No data"


class Target(models.Model):
    """A metric's target and alerting threshold (defaults: the seeds' KPIs, docs/metrics.md).

    Met when the figure is at least as good as the target, missed when it is worse than the
    threshold, at risk in between. Crossing into "missed" tells the support leads once."""

    metric = models.CharField(max_length=40, unique=True, help_text="A key of reports.metrics.")
    direction = models.CharField(max_length=10, choices=Direction.choices)
    target = models.DecimalField(max_digits=10, decimal_places=2)
    threshold = models.DecimalField(
        max_digits=10, decimal_places=2, help_text="Worse than this is missed, and alerts."
    )
    window_days = models.PositiveSmallIntegerField(
        default=7, help_text="The trailing window the alert check measures."
    )
    source = models.CharField(max_length=200, blank=True, help_text="Where the figure comes from.")
    active = models.BooleanField(default=True)
    state = models.CharField(
        max_length=10, choices=TargetState.choices, default=TargetState.NO_DATA, editable=False
    )
    checked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ("metric",)
        constraints: ClassVar = [
            values_check("direction", Direction.values, "target_direction_valid"),
            values_check("state", TargetState.values, "target_state_valid"),
            models.CheckConstraint(
                condition=(
                    models.Q(direction="higher", threshold__lte=models.F("target"))
                    | models.Q(direction="lower", threshold__gte=models.F("target"))
                ),
                name="target_threshold_beyond_target",
                violation_error_message="The threshold lies beyond the target, on the bad side.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.metric}: target {self.target}, threshold {self.threshold}"

    def assess(self, value: float | None) -> str:
        if value is None:
            return TargetState.NO_DATA
        target, threshold = float(self.target), float(self.threshold)
        if self.direction == Direction.HIGHER:
            if value >= target:
                return TargetState.MET
            return TargetState.MISSED if value < threshold else TargetState.AT_RISK
        if value <= target:
            return TargetState.MET
        return TargetState.MISSED if value > threshold else TargetState.AT_RISK


class ThresholdCrossing(models.Model):
    """A target's figure went past its threshold. At most one open crossing per target (the
    database keeps it), so the support leads hear of each crossing once."""

    target = models.ForeignKey(Target, on_delete=models.CASCADE, related_name="crossings")
    value = models.FloatField()
    crossed_at = models.DateTimeField(default=timezone.now)
    notified_at = models.DateTimeField(null=True, blank=True)
    cleared_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-crossed_at",)
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["target"],
                condition=models.Q(cleared_at__isnull=True),
                name="one_open_crossing_per_target",
            )
        ]

    def __str__(self) -> str:
        return f"{self.target.metric} crossed at {self.crossed_at:%Y-%m-%d %H:%M}"


class BudgetPeriod(models.Model):
    """One period (month, quarter or year, in the community's time zone) of a community's
    support budget; beat opens the next one when the current one ends."""

    community = models.ForeignKey(
        "communities.Community", on_delete=models.CASCADE, related_name="+"
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    kind = models.CharField(max_length=10)
    hours = models.DecimalField(max_digits=7, decimal_places=2)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("community", "-starts_at")
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["community", "starts_at"], name="budget_period_once"),
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")),
                name="budget_period_ends_after_start",
            ),
            values_check("kind", ["month", "quarter", "year"], "budget_period_kind_valid"),
        ]
        indexes: ClassVar = [models.Index(fields=["community", "ends_at"])]

    def __str__(self) -> str:
        return f"{self.community_id} {self.kind} from {self.starts_at:%Y-%m-%d}"


class BudgetNotice(models.Model):
    """Staff and representatives were told a period's budget reached a level: once each."""

    period = models.ForeignKey(BudgetPeriod, on_delete=models.CASCADE, related_name="notices")
    level = models.PositiveSmallIntegerField(help_text="Percent used: 80 or 100.")
    used_minutes = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("period", "level")
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["period", "level"], name="budget_notice_once"),
        ]

    def __str__(self) -> str:
        return f"{self.level} % of {self.period}"


class ReportMailing(models.Model):
    """A scheduled summary sent: once per kind, period and recipient group."""

    kind = models.CharField(max_length=20)  # weekly_leads | monthly_community
    period_start = models.DateTimeField()
    community = models.ForeignKey(
        "communities.Community", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    recipients = models.PositiveIntegerField(default=0)
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["kind", "period_start", "community"],
                name="report_mailing_once",
                nulls_distinct=False,
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.period_start:%Y-%m-%d}"


def _count() -> models.PositiveIntegerField[int, int]:
    return models.PositiveIntegerField(default=0)


def _seconds() -> ArrayField[list[float], list[float]]:
    return ArrayField(models.FloatField(), default=list, blank=True)


class DailyRollup(models.Model):
    """One community's figures of one whole past day (the desk's time zone), as
    reports.metrics defines them: counts, breakdowns, and the durations the medians are
    taken over (each value, so a median over many days stays exact). Built and rebuilt by
    reports.rollups; the database marks a day to rebuild when a row it sums changes."""

    day = models.DateField()
    community = models.ForeignKey(
        "communities.Community", on_delete=models.CASCADE, related_name="+"
    )
    # Tickets opened that day.
    opened = _count()
    opened_done = _count()  # resolved or closed now
    responded = _count()
    escalated = _count()
    kb_used = _count()
    opened_by_tier = models.JSONField(default=dict)
    opened_by_channel = models.JSONField(default=dict)
    response_seconds = _seconds()
    # Tickets resolved that day (their last resolution).
    resolved = _count()
    first_contact = _count()
    reopened = _count()
    resolution_seconds = _seconds()
    # SLA clocks started that day, per metric: decided, met in time; business time of the met.
    fr_decided = _count()
    fr_in_time = _count()
    nu_decided = _count()
    nu_in_time = _count()
    res_decided = _count()
    res_in_time = _count()
    fr_business_seconds = _seconds()
    res_business_seconds = _seconds()
    # Satisfaction answers given that day.
    rated = _count()
    rated_good = _count()
    built_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("day", "community")
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["day", "community"], name="daily_rollup_once"),
        ]

    def __str__(self) -> str:
        return f"{self.day} community {self.community_id}"


class RollupState(models.Model):
    """The days the roll-ups hold: every day from first_day to last_day, in time_zone. One
    row (pk 1). A day inside with an hour in RollupDirtyHour is read from the source rows
    until it is rebuilt."""

    time_zone = models.CharField(max_length=64)
    first_day = models.DateField()
    last_day = models.DateField()
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.first_day} to {self.last_day} ({self.time_zone})"


class RollupDirtyHour(models.Model):
    """An hour (UTC) in which a row the roll-ups sum changed: written by triggers in the
    database (migration 0005) on tickets, messages, tier escalations, SLA clocks and
    satisfaction answers, so no change, however it is made, goes unnoticed."""

    hour = models.DateTimeField(primary_key=True)

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H:00}"
