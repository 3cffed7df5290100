"""The uptime arithmetic as a table: overlapping incidents, month ends, maintenance inside
and beyond the allowance, each seed 001 plan's guarantee and credit; and the loader."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from incidents.uptime import compute, merge, month_bounds, parse_allowance

UTC_ZONE = ZoneInfo("UTC")
MARCH = month_bounds(2026, 3, UTC_ZONE)  # 31 days: 44,640 minutes


def at(day: int, hour: int = 0, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def h(hours: float) -> timedelta:
    return timedelta(hours=hours)


# seed 001 §2.1
PLANS = {
    "essential": (Decimal("99.000"), 10, 240, "week"),
    "standard": (Decimal("99.500"), 25, 360, "week"),
    "premium": (Decimal("99.900"), 100, 480, "week"),
    "enterprise": (Decimal("99.990"), 200, 600, "month"),
}

CASES = [
    # name, plan, outages, planned, downtime minutes, uptime %, credit %
    ("no incidents", "premium", [], [], 0, "100.000", 0),
    ("one hour", "premium", [(at(10, 9), at(10, 10))], [], 60, "99.865", 100),
    ("44 minutes meets 99.9", "premium", [(at(10, 9), at(10, 9, 44))], [], 44, "99.901", 0),
    ("45 minutes misses 99.9", "premium", [(at(10, 9), at(10, 9, 45))], [], 45, "99.899", 100),
    ("overlaps merged", "premium",
     [(at(10, 9), at(10, 10)), (at(10, 9, 30), at(10, 11)), (at(10, 11), at(10, 11, 30))], [],
     150, "99.663", 100),
    ("split at the month's start", "standard", [(at(28, 22, month=2), at(1, 2))], [], 120, "99.731", 0),
    ("split at the month's end", "standard", [(at(31, 23), at(1, 5, month=4))], [], 60, "99.865", 0),
    ("essential: 7 h 26 min meets 99.0", "essential", [(at(5), at(5, 7, 26))], [], 446, "99.000", 0),
    ("essential: 7 h 27 min misses 99.0", "essential", [(at(5), at(5, 7, 27))], [], 447, "98.998", 10),
    ("standard: 4 h misses 99.5", "standard", [(at(5), at(5, 4))], [], 240, "99.462", 25),
    ("enterprise: 5 min misses 99.99", "enterprise", [(at(5), at(5, 0, 5))], [], 5, "99.988", 200),
    ("enterprise: 4 min meets 99.99", "enterprise", [(at(5), at(5, 0, 4))], [], 4, "99.991", 0),
    ("maintenance within the weekly allowance", "premium", [], [(at(3, 1), at(3, 9))], 0, "100.000", 0),
    ("maintenance beyond the weekly allowance", "premium", [], [(at(3, 1), at(3, 10))], 60, "99.865", 100),
    ("two weeks, each within", "essential", [], [(at(3, 0), at(3, 4)), (at(10, 0), at(10, 4))], 0, "100.000", 0),
    ("one week, twice, beyond", "essential", [], [(at(3, 0), at(3, 3)), (at(4, 0), at(4, 3))], 120, "99.731", 0),
    ("monthly allowance used up", "enterprise", [], [(at(3), at(3, 6)), (at(20), at(20, 5))], 60, "99.865", 200),
    ("maintenance during an outage", "premium", [(at(3, 0), at(3, 2))], [(at(3, 1), at(3, 3))], 120, "99.731", 100),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "plan", "outages", "planned", "minutes", "uptime", "credit"),
    CASES,
    ids=[c[0] for c in CASES],
)
def test_uptime_table(name, plan, outages, planned, minutes, uptime, credit):
    guarantee, credit_percent, allowance, period = PLANS[plan]
    figure = compute(
        outages=outages, planned=planned, start=MARCH[0], end=MARCH[1], zone=UTC_ZONE,
        guarantee=guarantee, credit_percent=credit_percent, allowance_minutes=allowance,
        allowance_period=period,
    )  # fmt: skip
    assert figure.downtime == timedelta(minutes=minutes)
    assert figure.uptime_percent == Decimal(uptime)
    assert figure.credit_percent == credit
    assert figure.met == (credit == 0)


def test_a_weekly_allowance_spans_the_month_boundary():
    """The week of Mon 30 March: 3 h used in March, 3 h in April, 4 h allowed: 2 h count,
    all in April."""
    planned = [(at(30, 0), at(30, 3)), (at(1, 0, month=4), at(1, 3, month=4))]
    april = month_bounds(2026, 4, UTC_ZONE)
    args: dict[str, Any] = {"guarantee": Decimal("99"), "credit_percent": 10, "allowance_minutes": 240,
            "allowance_period": "week", "zone": UTC_ZONE, "outages": [], "planned": planned}  # fmt: skip
    assert compute(start=MARCH[0], end=MARCH[1], **args).downtime == timedelta(0)
    assert compute(start=april[0], end=april[1], **args).downtime == h(2)


def test_months_are_the_communitys_own():
    berlin = ZoneInfo("Europe/Berlin")
    start, end = month_bounds(2026, 3, berlin)
    assert (start, end) == (
        datetime(2026, 2, 28, 23, tzinfo=UTC),
        datetime(2026, 3, 31, 22, tzinfo=UTC),
    )
    assert end - start == h(31 * 24 - 1)  # the clocks go forward on 29 March


def test_merge_and_parse():
    assert merge([(at(2), at(3)), (at(1), at(2)), (at(5), at(5))]) == [(at(1), at(3))]
    assert parse_allowance("4-hour weekly") == (240, "week")
    assert parse_allowance("10-hour monthly") == (600, "month")
    assert parse_allowance("") == (0, "month")


@pytest.mark.django_db
def test_community_uptime_reads_its_incidents():
    from communities.models import ServicePlan
    from incidents.models import IncidentComponent, Service
    from incidents.services.lifecycle import incident_change
    from incidents.services.updates import incident_update_post
    from incidents.uptime import community_uptime
    from tests.communities.factories import CommunityFactory
    from tests.incidents.factories import declare

    plan = ServicePlan.objects.create(
        name="P", slug="p", uptime_guarantee=Decimal("99.9"), downtime_credit_percent=100,
        maintenance_window="8-hour weekly",
    )  # fmt: skip
    community = CommunityFactory.create(service_plan=plan, time_zone="UTC")
    other = CommunityFactory.create(service_plan=plan, time_zone="UTC")
    outage = declare(communities=[community], maintenance=True)
    incident_change(incident=outage, actor=outage.commander, maintenance=False)
    incident_update_post(incident=outage, actor=outage.commander, body="Fixed.", status="resolved")
    outage.refresh_from_db()
    resolved = outage.resolved_at
    assert resolved is not None
    start = resolved - h(1)
    incident_change(
        incident=outage, actor=outage.commander, impact_started_at=start, detected_at=start
    )
    degraded = declare(communities=[community], maintenance=True)
    component = Service.objects.create(name="API").components.create(name="REST")
    IncidentComponent.objects.create(incident=degraded, component=component, degree="degraded")
    now = resolved
    month = now.year, now.month
    figure = community_uptime(community=community, year=month[0], month=month[1], now=now)
    in_month = max(start, figure.start)
    assert figure.downtime == now - in_month
    assert community_uptime(
        community=other, year=month[0], month=month[1], now=now
    ).downtime == timedelta(0)
