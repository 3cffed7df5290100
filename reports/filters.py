"""Report filters from a query string, the same for the desk, the portal and the API.

The communities come from the viewer's scope (communities.selectors.community_scope or the
representative's communities); a community asked for outside it is "not found" (404)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.dateparse import parse_date

from communities.models import Community
from reports.metrics import Filters
from tickets.models import Channel, Severity, Tier

PERIODS: dict[str, str] = {
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "90d": "Last 90 days",
    "month": "This month",
    "last-month": "Last month",
    "year": "Last 12 months",
}
DEFAULT_PERIOD = "30d"
FILTER_NAMES = (
    "period",
    "start",
    "end",
    "community",
    "plan",
    "tier",
    "severity",
    "team",
    "agent",
    "channel",
)


@dataclass(frozen=True)
class Parsed:
    filters: Filters
    params: dict[str, str]  # the valid filters given, to rebuild links
    period_label: str
    community: Community | None

    def query(self, **extra: Any) -> str:
        merged = {**self.params, **{k: v for k, v in extra.items() if v not in (None, "")}}
        return urlencode(merged, doseq=True)


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def period_range(
    params: Mapping[str, str], now: datetime
) -> tuple[datetime, datetime, str, dict[str, str]]:
    local = timezone.localtime(now)
    start_day, end_day = parse_date(params.get("start") or ""), parse_date(params.get("end") or "")
    if start_day and end_day and end_day >= start_day:
        tz = timezone.get_current_timezone()
        start = datetime.combine(start_day, datetime.min.time(), tzinfo=tz)
        end = datetime.combine(end_day + timedelta(days=1), datetime.min.time(), tzinfo=tz)
        return (
            start,
            end,
            f"{start_day} to {end_day}",
            {"start": str(start_day), "end": str(end_day)},
        )
    period = params.get("period") or DEFAULT_PERIOD
    if period not in PERIODS:
        period = DEFAULT_PERIOD
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "month":
        start, end = midnight.replace(day=1), now
    elif period == "last-month":
        end = midnight.replace(day=1)
        start = (end - timedelta(days=1)).replace(day=1)
    elif period == "year":
        start, end = now - timedelta(days=365), now
    else:
        start, end = now - timedelta(days=int(period[:-1])), now
    return start, end, PERIODS[period], {"period": period}


def parse_filters(
    params: Mapping[str, str], *, communities: QuerySet[Community], now: datetime | None = None
) -> Parsed:
    """Filters from the query string within `communities` (the viewer's scope)."""
    now = now or timezone.now()
    start, end, label, kept = period_range(params, now)
    community = None
    slug = (params.get("community") or "").strip()
    scope_ids = tuple(communities.order_by("pk").values_list("pk", flat=True))
    if slug:
        community = communities.filter(slug=slug).first()
        if community is None:
            raise Http404("No such community.")
        ids: tuple[int, ...] = (community.pk,)
        kept["community"] = slug
    else:
        ids = scope_ids
    tier = params.get("tier") or ""
    severity = params.get("severity") or ""
    channel = params.get("channel") or ""
    tier = tier if tier in Tier.values else ""
    severity = severity if severity in Severity.values else ""
    channel = channel if channel in Channel.values else ""
    plan, team, agent = (
        _int(params.get("plan")),
        _int(params.get("team")),
        _int(params.get("agent")),
    )
    for name, value in (
        ("tier", tier),
        ("severity", severity),
        ("channel", channel),
        ("plan", plan),
        ("team", team),
        ("agent", agent),
    ):
        if value:
            kept[name] = str(value)
    filters = Filters(
        start=start,
        end=end,
        community_ids=ids,
        plan=plan,
        tier=tier,
        severity=severity,
        team=team,
        agent=agent,
        channel=channel,
    )
    return Parsed(filters=filters, params=kept, period_label=label, community=community)
