"""What the desk's "Why was this routed here?" panel gets."""

import pytest

from routing.selectors import routing_decision_latest
from routing.services import config
from routing.services.routing import ticket_escalate, ticket_route
from tests.routing.factories import AgentProfileFactory, CategoryFactory
from tickets.services.lifecycle import ticket_open

pytestmark = pytest.mark.django_db


def test_the_panel_explains_the_latest_decision_in_four_queries(
    community, representative, django_assert_num_queries
):
    category = CategoryFactory.create(name="Deployment", default_tier="community")
    config.rule_create(
        name="Deploys", keywords=["deploy"], set_category=category, add_tags=["deploy"]
    )
    tier2 = AgentProfileFactory.create(tier_level=2)
    tier2.user.first_name, tier2.user.last_name = "Lena", "Fischer"
    tier2.user.save()
    AgentProfileFactory.create(tier_level=3)
    ticket = ticket_open(
        community=community, requester=representative, subject="Deploy fails",
        description="Many users see it", opened_by=representative,
    )  # fmt: skip
    ticket_route(ticket=ticket, trigger="opened")
    ticket_escalate(ticket=ticket, direction="down", reason="Not that hard", actor=tier2.user)

    with django_assert_num_queries(4):
        panel = routing_decision_latest(ticket)

    assert panel is not None
    assert panel.trigger == "Tier escalation"
    assert panel.actor == "Lena Fischer"
    assert panel.rules_ran is False
    assert [(r.name, r.matched, r.actions) for r in panel.rules] == [
        ("Deploys", ("deploy",), ("category → Deployment", "tags + deploy"))
    ]
    assert (panel.category, panel.severity, panel.tier) == ("Deployment", "High (P2)", "Community")
    assert panel.severity_phrases == ("many users",)
    assert panel.severity_why == "raised by the severity assessment (many users)"
    assert (panel.outcome, panel.assignee) == ("Assigned", "Lena Fischer")
    assert panel.explanation == "Lena Fischer is the only agent who fits."
    assert [(c.name, c.eligible, c.rank) for c in panel.candidates] == [("Lena Fischer", True, 1)]
    assert panel.earlier_runs == 1
    assert panel.escalations == ("Expert → Community by Lena Fischer: Not that hard",)
    assert panel.waiting_since is None
    assert panel.suggestion is None


def test_no_panel_before_the_first_run(community, representative):
    ticket = ticket_open(
        community=community, requester=representative, subject="x", description="y",
        opened_by=representative,
    )  # fmt: skip
    assert routing_decision_latest(ticket) is None
