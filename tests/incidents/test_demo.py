"""The incidents demo: idempotent, and last month's figures miss Premium's and Enterprise's
guarantees."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from communities.models import ServicePlan
from incidents import demo
from incidents.models import ActionItem, Incident, MaintenanceAllowance, Postmortem
from incidents.uptime import community_uptime
from tests.communities.factories import CommunityFactory
from tests.core.factories import AgentFactory

pytestmark = pytest.mark.django_db


def test_demo_seed_is_idempotent_and_makes_last_months_figures():
    premium = ServicePlan.objects.create(
        name="Premium", slug="premium", uptime_guarantee=Decimal("99.900"),
        downtime_credit_percent=100, maintenance_window="8-hour weekly",
    )  # fmt: skip
    standard = ServicePlan.objects.create(
        name="Standard", slug="standard", uptime_guarantee=Decimal("99.500"),
        downtime_credit_percent=25, maintenance_window="6-hour weekly", position=1,
    )  # fmt: skip
    aurora = CommunityFactory.create(slug="aurora", service_plan=premium, time_zone="UTC")
    tides = CommunityFactory.create(slug="open-tides", service_plan=standard, time_zone="UTC")
    for n in (1, 2, 3, 4):
        AgentFactory.create(email=f"agent{n}@example.com")
    demo.seed()
    demo.seed()
    assert Incident.objects.count() == 2
    outage = Incident.objects.get(key=demo.OUTAGE_KEY)
    assert outage.status == "closed"
    assert Postmortem.objects.get(incident=outage).published_at is not None
    assert sorted(ActionItem.objects.values_list("status", flat=True)) == ["deferred", "done"]
    assert MaintenanceAllowance.objects.get(plan=premium).minutes == 480
    last = timezone.now().replace(day=1) - timedelta(days=1)
    figure = community_uptime(community=aurora, year=last.year, month=last.month)
    assert figure.downtime == timedelta(minutes=75)  # impact start to mitigation
    assert (figure.met, figure.credit_percent) == (False, 100)
    tides_figure = community_uptime(community=tides, year=last.year, month=last.month)
    assert tides_figure.downtime == timedelta(0)
    assert tides_figure.planned_excluded == timedelta(hours=3)
