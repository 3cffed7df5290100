"""SLA compliance over a window: met in time, and the time taken."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Aggregate, Count, F, FloatField, Func, Q, QuerySet

from communities.models import Community, ServicePlan
from slas.models import ClockState, Metric, SLATarget

# ---------------------------------------------------------------- compliance


class PercentileCont(Aggregate):
    """PostgreSQL's PERCENTILE_CONT(p) WITHIN GROUP (ORDER BY expression)."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression: Any, fraction: float, **extra: Any) -> None:
        if not 0 <= fraction <= 1:
            raise ValueError("A percentile is a fraction between 0 and 1.")
        super().__init__(expression, fraction=repr(float(fraction)), **extra)


def _elapsed() -> Func:
    return Func(
        F("met_at") - F("started_at"),
        template="EXTRACT(EPOCH FROM %(expressions)s)",
        output_field=FloatField(),
    )


@dataclass(frozen=True)
class MetricCompliance:
    metric: str
    decided: int  # met or breached
    met_in_time: int
    late: int
    still_running: int
    share_met_in_time: float | None
    # Counted time used (the target's measure, pauses excluded) and wall-clock time from
    # start to met, in seconds, over the clocks met in the window.
    median_used_seconds: float | None
    p90_used_seconds: float | None
    median_elapsed_seconds: float | None
    p90_elapsed_seconds: float | None


def sla_compliance(
    *,
    communities: QuerySet[Community],
    start: datetime,
    end: datetime,
    plan: ServicePlan | None = None,
    severity: str | None = None,
) -> list[MetricCompliance]:
    """Per metric, over the clocks started in [start, end) on tickets of `communities`
    (the caller's scope, possibly narrowed to one): how many were met in time, and the
    median and 90th percentile of the time they took. Cancelled clocks do not count."""
    targets = SLATarget.objects.filter(
        community__in=communities, started_at__gte=start, started_at__lt=end
    ).exclude(state=ClockState.CANCELLED)
    if plan is not None:
        targets = targets.filter(plan=plan)
    if severity:
        targets = targets.filter(severity=severity)
    met = Q(state=ClockState.MET)
    in_time = Q(state=ClockState.MET, breached_at__isnull=True, met_at__lte=F("due_at"))
    rows: dict[str, dict[str, Any]] = {
        row["metric"]: dict(row)
        for row in targets.values("metric").annotate(
            decided=Count("id", filter=Q(state__in=[ClockState.MET, ClockState.BREACHED])),
            in_time=Count("id", filter=in_time),
            running=Count("id", filter=Q(state__in=[ClockState.RUNNING, ClockState.PAUSED])),
            median_used=PercentileCont("used_seconds", 0.5, filter=met),
            p90_used=PercentileCont("used_seconds", 0.9, filter=met),
            median_elapsed=PercentileCont(_elapsed(), 0.5, filter=met),
            p90_elapsed=PercentileCont(_elapsed(), 0.9, filter=met),
        )
    }
    result = []
    for metric in Metric.values:
        row = rows.get(metric, {})
        decided, on_time = row.get("decided", 0), row.get("in_time", 0)
        result.append(
            MetricCompliance(
                metric=metric,
                decided=decided,
                met_in_time=on_time,
                late=decided - on_time,
                still_running=row.get("running", 0),
                share_met_in_time=round(on_time / decided, 4) if decided else None,
                median_used_seconds=row.get("median_used"),
                p90_used_seconds=row.get("p90_used"),
                median_elapsed_seconds=row.get("median_elapsed"),
                p90_elapsed_seconds=row.get("p90_elapsed"),
            )
        )
    return result
