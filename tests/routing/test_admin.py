"""The admin writes through the services, and offers "Test these rules"."""

import pytest

from routing.models import AgentProfile, RoutingDecision, RoutingRule
from tests.core.factories import AgentFactory
from tests.routing.factories import CategoryFactory, RoutingRuleFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    admin = AgentFactory.create(is_superuser=True)
    client.force_login(admin)
    return client


def test_test_these_rules_shows_what_would_happen_and_saves_nothing(admin_client):
    category = CategoryFactory.create(name="Deployment", default_tier="community")
    RoutingRuleFactory.create(name="Deploys", keywords=["deploy"], set_category=category)

    page = admin_client.post(
        "/admin/routing/routingrule/test/",
        {"subject": "Deploy failed", "description": "Production down", "channel": "portal",
         "kind": "incident", "severity": "medium", "requester_is_representative": "on"},
    )  # fmt: skip

    assert page.status_code == 200
    html = page.content.decode()
    assert "<td>Deploys</td><td>deploy</td><td>category → Deployment</td>" in html
    assert "<tr><th>Severity</th><td>critical</td>" in html
    assert "<tr><th>Tier</th><td>emergency</td>" in html
    assert "nobody (waits in the queue)" in html
    assert not RoutingDecision.objects.exists()
    assert admin_client.get("/admin/routing/routingrule/").status_code == 200


def test_the_admin_refuses_an_empty_rule_with_the_services_reason(admin_client):
    page = admin_client.post(
        "/admin/routing/routingrule/add/",
        {"name": "Nothing", "position": 1, "match_in": "both", "active": "on"},
    )
    assert page.status_code == 200
    assert "A rule needs at least one condition" in page.content.decode()
    assert not RoutingRule.objects.exists()


def test_the_admin_saves_a_rule_and_a_profile_through_the_services(admin_client):
    agent = AgentFactory.create()
    saved = admin_client.post(
        "/admin/routing/routingrule/add/",
        {"name": "Deploys", "position": 1, "match_in": "both", "active": "on",
         "keywords": "Deploy,helm upgrade", "set_tier": "expert"},
    )  # fmt: skip
    profile = admin_client.post(
        "/admin/routing/agentprofile/add/",
        {"user": agent.pk, "tier_level": 3, "max_open_tickets": 5, "time_zone": "UTC",
         "status": "available"},
    )  # fmt: skip

    assert (saved.status_code, profile.status_code) == (302, 302)
    assert RoutingRule.objects.get().keywords == ["deploy", "helm upgrade"]
    assert AgentProfile.objects.get().tier_level == 3
