"""Targets and thresholds: the seeds' figures as defaults, assessment, and the alert check
that tells the support leads once per crossing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from communities.models import Community
from core.services import create_once
from reports import mail, metrics
from reports.models import Target, TargetState, ThresholdCrossing


@dataclass(frozen=True)
class DefaultTarget:
    metric: str
    direction: str
    target: float
    threshold: float
    source: str


# metric, direction, target, threshold (worse than it: missed and alerted), where from.
DEFAULT_TARGETS: tuple[DefaultTarget, ...] = (
    DefaultTarget("first_response", "lower", 120, 240,
                  "seed 000 KPI: first response < 2 h; alert > 4 h"),
    DefaultTarget("resolution_rate", "higher", 90, 85,
                  "seed 000 KPI: resolution rate > 90 %; alert < 85 %"),
    DefaultTarget("satisfaction", "higher", 90, 80,
                  "seed 001 §2.3: satisfaction ≥ 90 %; seed 000 alert < 4.0/5 (80 %)"),
    DefaultTarget("first_contact_resolution", "higher", 85, 80,
                  "seed 001 §2.3: 85 %; seed 000 quality target > 80 %"),
    DefaultTarget("escalation_rate", "lower", 10, 30,
                  "seed 001 §2.3: < 10 %; seed 002: L1 → L2 < 30 %"),
    DefaultTarget("page_acknowledge", "lower", 5, 15,
                  "seed 002: acknowledge < 5 min; seed 000: immediate acknowledgement < 15 min"),
    DefaultTarget("sla_first_response", "higher", 100, 95,
                  "seed 002: response time SLA, target 100 %"),
    DefaultTarget("sla_resolution", "higher", 90, 85,
                  "seed 002: resolution time, target 90 %"),
    DefaultTarget("kb_usage", "higher", 70, 50,
                  "seed 001 §2.3: knowledge base usage 70 %; §13 baseline 50 %"),
    DefaultTarget("self_service_share", "higher", 85, 80,
                  "seed 000 KPI: self-service success > 85 %; alert < 80 %"),
)  # fmt: skip


def targets_by_metric() -> dict[str, Target]:
    return {t.metric: t for t in Target.objects.filter(active=True)}


@dataclass(frozen=True)
class CheckResult:
    target: Target
    value: float | None
    state: str
    crossed: bool


def _all_communities() -> tuple[int, ...]:
    return tuple(Community.objects.values_list("pk", flat=True))


def targets_check() -> list[CheckResult]:
    """Measure each active target over its trailing window across every community. A
    target that becomes missed opens a crossing (one open per target, kept by the database)
    and tells the support leads; one back within its threshold closes its crossing, so the
    next crossing tells them again."""
    now = timezone.now()
    communities = _all_communities()
    results = []
    for target in Target.objects.filter(active=True):
        if target.metric not in metrics.METRICS:
            continue
        f = metrics.Filters(
            start=now - timedelta(days=target.window_days), end=now, community_ids=communities
        )
        figure = metrics.compute(target.metric, f)
        state = target.assess(figure.value)
        Target.objects.filter(pk=target.pk).update(state=state, checked_at=now)
        crossed = False
        if state == TargetState.MISSED:
            crossed = _open_crossing(target, figure)
        else:
            ThresholdCrossing.objects.filter(target=target, cleared_at__isnull=True).update(
                cleared_at=now
            )
        results.append(CheckResult(target, figure.value, state, crossed))
    return results


def _open_crossing(target: Target, figure: metrics.Figure) -> bool:
    """Open the target's crossing and queue its mail, both or neither."""
    with transaction.atomic():
        crossing = create_once(ThresholdCrossing, target=target, value=figure.value or 0.0)
        if crossing is None:
            return False  # already open: told before
        mail.threshold_crossed_queue(crossing=crossing, figure=figure)
        ThresholdCrossing.objects.filter(pk=crossing.pk).update(notified_at=timezone.now())
    return True
