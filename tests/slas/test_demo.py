"""The demo data: calendars, the plan x severity grid, and live clocks on the demo tickets."""

import pytest
from django.core.management import call_command

from communities.models import Community
from core import outbox
from core.models import EventDelivery
from slas.models import BusinessCalendar, CommunityCalendar, SLAPolicy, SLATarget, TicketSLA
from slas.selectors import calendar_for, policy_grid

pytestmark = pytest.mark.django_db


def test_the_demo_sets_up_calendars_and_a_policy_for_every_plan_and_severity():
    call_command("seed_demo")
    call_command("seed_demo")  # idempotent

    assert sorted(BusinessCalendar.objects.values_list("name", "time_zone", "is_default")) == [
        ("Americas office (Los Angeles)", "America/Los_Angeles", False),
        ("Asia office (Singapore)", "Asia/Singapore", False),
        ("Europe office (Berlin)", "Europe/Berlin", False),
        ("Working day (Mon-Fri, 24 h, UTC)", "UTC", True),
    ]
    assert dict(CommunityCalendar.objects.values_list("community__slug", "calendar__name")) == {
        "aurora": "Europe office (Berlin)",
        "open-tides": "Americas office (Los Angeles)",
        "kestrel": "Asia office (Singapore)",
    }
    meridian = Community.objects.get(slug="meridian")
    assert str(calendar_for(community_id=meridian.pk, plan_id=meridian.service_plan_id)) == (
        "Working day (Mon-Fri, 24 h, UTC)"
    )
    plans, severities, grid = policy_grid()
    assert [p.name for p in plans] == ["Essential", "Standard", "Premium", "Enterprise"]
    targets = {
        (plan.name, severity): (
            cell.policy.first_response_minutes, cell.policy.resolution_minutes,
            cell.policy.first_response_business,
        )
        for plan in plans
        for severity in severities
        if (cell := grid[(plan.pk, severity)]).policy is not None
    }  # fmt: skip
    assert len(targets) == 16
    assert {v for (plan, _), v in targets.items() if plan == "Premium"} == {
        (15, 240, False), (60, 480, True), (240, 1440, True), (480, 4320, True),
    }  # fmt: skip
    assert SLAPolicy.objects.count() == 17


def test_the_demo_tickets_get_running_clocks():
    call_command("seed_demo")
    for delivery in EventDelivery.objects.filter(
        handler="slas.handlers.sync_ticket_clocks", state="pending"
    ).order_by("pk"):
        outbox.delivery_run(delivery_id=delivery.pk)

    states = {
        (sla.ticket.subject[:24], sla.policy.name if sla.policy else None)
        for sla in TicketSLA.objects.select_related("ticket", "policy")
    }
    assert states == {
        ("JupyterHub down: users g", "Premium · Critical (P1)"),
        ("Please add the xarray-sp", "Premium · Low (P4)"),
        ("How should we share a 2 ", "Standard · Medium (P3)"),
        ("Workshop on 12 March for", "Enterprise · Medium (P3)"),
        ("Where do I reset a stude", "Essential · Low (P4)"),
    }
    assert SLATarget.objects.filter(state="running").exists()
