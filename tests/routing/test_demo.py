"""The demo data: seed 000's categories as rules, skills, and agents 1-4 at tiers 1-4."""

import pytest
from django.core.management import call_command

from routing.models import AgentProfile, RoutingRule
from routing.services.routing import rules_test
from tickets.models import Category

pytestmark = pytest.mark.django_db


def test_the_demo_routes_seed_000s_categories_to_skilled_agents_at_each_tier():
    call_command("seed_demo")
    call_command("seed_demo")

    assert sorted(Category.objects.values_list("slug", "routing__required_skill__slug")) == [
        ("chart-creation", "chart-development"), ("deployment", "deployment"),
        ("integration", "integration"), ("performance", "performance"), ("security", "security"),
    ]  # fmt: skip
    assert RoutingRule.objects.count() == 6
    assert list(AgentProfile.objects.order_by("tier_level").values_list("user__email", "tier_level")) == [
        ("agent1@example.com", 1), ("agent2@example.com", 2),
        ("agent3@example.com", 3), ("agent4@example.com", 4),
    ]  # fmt: skip
    run = rules_test(subject="Jenkins pipeline fails", description="Our CI/CD broke")
    assert run.plan.category is not None
    assert run.pick.winner is not None
    assert (run.plan.category.slug, run.plan.tier, run.pick.winner.name) == (
        "integration", "community", "Lena Fischer",
    )  # fmt: skip
    security = rules_test(subject="RBAC policy", description="Which roles?")
    assert security.plan.category is not None
    assert security.pick.winner is not None
    assert (security.plan.category.slug, security.plan.tier, security.pick.winner.name) == (
        "security", "expert", "Ravi Iyer",
    )  # fmt: skip
