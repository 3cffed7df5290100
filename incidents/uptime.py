"""Monthly uptime per community and the credit owed (seed 001 §2.1).

The arithmetic is pure (plain tuples, no database) and pinned by a table of tests; the
loader at the bottom reads a community's incidents.

- An incident's impact window runs from its impact start to when it was mitigated (or
  resolved, or now while it lasts). Incidents whose affected components are all only
  "degraded" are not downtime; any partial or major outage (or no component named) is.
- Windows of one community are merged where they overlap, then clipped to the month. The
  month is the community's calendar month in its own time zone.
- Planned maintenance (incidents flagged maintenance) is not downtime as long as it stays
  within the plan's allowance for its period (a week from Monday 00:00 or a month, in the
  community's zone), taken in time order; beyond it, it is.
- Uptime = (month − downtime) / month. Below the plan's guarantee the plan's credit is owed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from communities.models import Community
    from incidents.models import Incident

Span = tuple[datetime, datetime]


def merge(spans: Iterable[Span]) -> list[Span]:
    """Overlapping or touching spans become one; empty ones vanish."""
    out: list[Span] = []
    for start, end in sorted(s for s in spans if s[1] > s[0]):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def clip(spans: Iterable[Span], start: datetime, end: datetime) -> list[Span]:
    return [(max(s, start), min(e, end)) for s, e in spans if e > start and s < end]


def month_bounds(year: int, month: int, zone: ZoneInfo) -> Span:
    first = datetime(year, month, 1, tzinfo=zone)
    after = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=zone)
    return first.astimezone(UTC), after.astimezone(UTC)


def _period_start(at: datetime, period: str, zone: ZoneInfo) -> datetime:
    local = at.astimezone(zone)
    if period == "month":
        return datetime(local.year, local.month, 1, tzinfo=zone)
    day = local.date() - timedelta(days=local.weekday())
    return datetime(day.year, day.month, day.day, tzinfo=zone)


def _period_end(start: datetime, period: str, zone: ZoneInfo) -> datetime:
    if period == "month":
        return datetime(start.year + start.month // 12, start.month % 12 + 1, 1, tzinfo=zone)
    day = start.date() + timedelta(days=7)
    return datetime(day.year, day.month, day.day, tzinfo=zone)


def beyond_allowance(
    planned: Iterable[Span], *, minutes: int, period: str, zone: ZoneInfo
) -> list[Span]:
    """The parts of planned maintenance that exceed the allowance of their period."""
    allowance = timedelta(minutes=minutes)
    excess: list[Span] = []
    used: dict[datetime, timedelta] = {}
    for start, end in merge(planned):
        cursor = start
        while cursor < end:
            p_start = _period_start(cursor, period, zone)
            p_end = _period_end(p_start, period, zone).astimezone(UTC)
            piece_end = min(end, p_end)
            left = allowance - used.get(p_start, timedelta(0))
            covered = min(max(left, timedelta(0)), piece_end - cursor)
            used[p_start] = used.get(p_start, timedelta(0)) + covered
            if cursor + covered < piece_end:
                excess.append((cursor + covered, piece_end))
            cursor = piece_end
    return excess


@dataclass(frozen=True)
class Uptime:
    start: datetime
    end: datetime
    downtime: timedelta
    windows: tuple[Span, ...]
    planned_excluded: timedelta
    uptime_percent: Decimal  # rounded down to 3 places, as shown
    guarantee: Decimal
    met: bool
    credit_percent: int

    @property
    def total(self) -> timedelta:
        return self.end - self.start


def compute(
    *,
    outages: Iterable[Span],
    planned: Iterable[Span],
    start: datetime,
    end: datetime,
    zone: ZoneInfo,
    guarantee: Decimal,
    credit_percent: int,
    allowance_minutes: int,
    allowance_period: str,
) -> Uptime:
    planned = list(planned)
    excess = beyond_allowance(
        planned, minutes=allowance_minutes, period=allowance_period, zone=zone
    )
    windows = clip(merge([*outages, *excess]), start, end)
    down = sum((e - s for s, e in windows), timedelta(0))
    planned_in_month = clip(merge(planned), start, end)
    planned_total = sum((e - s for s, e in planned_in_month), timedelta(0))
    excess_in_month = sum((e - s for s, e in clip(merge(excess), start, end)), timedelta(0))
    # What maintenance did not count as downtime: planned time not already down otherwise.
    outage_only = clip(merge(outages), start, end)
    overlap = timedelta(0)
    for ps, pe in planned_in_month:
        for os_, oe in outage_only:
            if oe > ps and os_ < pe:
                overlap += min(pe, oe) - max(ps, os_)
    excluded = max(planned_total - excess_in_month - overlap, timedelta(0))
    total = (end - start).total_seconds()
    up = Decimal(str(total - down.total_seconds())) * 100 / Decimal(str(total))
    met = up >= guarantee
    return Uptime(
        start=start, end=end, downtime=down, windows=tuple(windows),
        planned_excluded=excluded,
        uptime_percent=up.quantize(Decimal("0.001"), rounding=ROUND_DOWN),
        guarantee=guarantee, met=met, credit_percent=0 if met else credit_percent,
    )  # fmt: skip


_ALLOWANCE_TEXT = re.compile(r"(\d+(?:\.\d+)?)\s*-?\s*hours?\s+(weekly|monthly)", re.I)


def parse_allowance(text: str) -> tuple[int, str]:
    """'4-hour weekly' → (240, 'week'); anything else → no allowance."""
    match = _ALLOWANCE_TEXT.search(text or "")
    if not match:
        return 0, "month"
    minutes = int(float(match.group(1)) * 60)
    return minutes, "week" if match.group(2).lower() == "weekly" else "month"


# ---------------------------------------------------------------- loading


def parse_month(value: str) -> tuple[int, int] | None:
    match = re.fullmatch(r"(\d{4})-(\d{2})", value or "")
    if not match:
        return None
    year, month = int(match.group(1)), int(match.group(2))
    if not (1 <= month <= 12 and 1970 <= year <= 2200):
        return None
    return year, month


def incident_spans(
    incidents: Iterable[Incident], degrees: dict[int, set[str]], now: datetime
) -> tuple[list[Span], list[Span]]:
    """The outages and the planned maintenance of these incidents, as spans from the
    impact's start to mitigation (else resolution, else now). An incident whose components
    were all only degraded (`degrees`: each incident's component degrees) is no outage."""
    from incidents.states import Degree

    outages: list[Span] = []
    planned: list[Span] = []
    for incident in incidents:
        found = degrees.get(incident.pk)
        if found and found == {Degree.DEGRADED}:
            continue
        stop = incident.mitigated_at or incident.resolved_at or now
        span = (incident.impact_started_at, min(stop, now))
        (planned if incident.maintenance else outages).append(span)
    return outages, planned


def community_uptime(
    *, community: Community, year: int, month: int, now: datetime | None = None
) -> Uptime:
    """The month's figure for one community (2 queries besides the plan)."""
    from django.utils import timezone

    from incidents.models import Incident, IncidentComponent, MaintenanceAllowance

    now = now or timezone.now()
    zone = ZoneInfo(community.time_zone)
    start, end = month_bounds(year, month, zone)
    plan = community.service_plan
    allowance = MaintenanceAllowance.objects.filter(plan=plan).first()
    if allowance is not None:
        minutes, period = allowance.minutes, allowance.period
    else:
        minutes, period = parse_allowance(plan.maintenance_window)
    # A weekly allowance's first week may start before the month.
    look_from = start - timedelta(days=7)
    incidents = list(
        Incident.objects.filter(affected__community=community, impact_started_at__lt=end)
        .exclude(mitigated_at__lt=look_from)
        .exclude(resolved_at__lt=look_from)
        .only("pk", "impact_started_at", "mitigated_at", "resolved_at", "maintenance")
    )
    degrees: dict[int, set[str]] = {}
    for incident_id, degree in IncidentComponent.objects.filter(
        incident__in=[i.pk for i in incidents]
    ).values_list("incident_id", "degree"):
        degrees.setdefault(incident_id, set()).add(degree)
    outages, planned = incident_spans(incidents, degrees, now)
    return compute(
        outages=outages, planned=planned, start=start, end=end,
        zone=zone, guarantee=Decimal(plan.uptime_guarantee),
        credit_percent=plan.downtime_credit_percent, allowance_minutes=minutes,
        allowance_period=period,
    )  # fmt: skip
