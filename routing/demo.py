"""Routing's demo data (seed_demo's DEMO_SEEDERS): seed 000's five categories with their
keyword lists as rules, the skills they need, and the demo agents' profiles at tiers 1-4.
Idempotent: what exists is left alone."""

from __future__ import annotations

from core.models import User
from routing.models import AgentProfile, RoutingRule, Skill
from routing.services import config
from tickets.models import Category

SKILLS = (
    ("Chart development", "chart-development"),
    ("Deployment", "deployment"),
    ("Security", "security"),
    ("Performance", "performance"),
    ("Integration", "integration"),
    ("Documentation", "documentation"),
)

# seed 000, SupportRouter.categorizeIssue: the categories and their keyword lists; the tiers
# follow its routing rules (basic chart creation is tier 1 material, security and
# performance optimisation go to the experts).
CATEGORIES = (
    # name, slug, default tier, skill, keywords
    ("Chart creation", "chart-creation", "self_service", "chart-development",
     ["create", "generate", "scaffold", "template"]),
    ("Deployment", "deployment", "community", "deployment",
     ["deploy", "install", "upgrade", "rollback"]),
    ("Security", "security", "expert", "security",
     ["security", "vulnerability", "rbac", "policy"]),
    ("Performance", "performance", "expert", "performance",
     ["slow", "timeout", "optimization", "resource"]),
    ("Integration", "integration", "community", "integration",
     ["ci/cd", "pipeline", "gitlab", "github", "jenkins"]),
)  # fmt: skip

# The demo agents of seed_demo: tier, skills, and who stands in while they are away.
AGENTS = (
    ("agent1@example.com", 1, ["chart-development", "deployment", "documentation"], None),
    ("agent2@example.com", 2, ["chart-development", "deployment", "integration"], "agent1@example.com"),
    ("agent3@example.com", 3, ["security", "performance", "deployment", "integration"], "agent4@example.com"),
    ("agent4@example.com", 4, ["chart-development", "deployment", "security", "performance",
                               "integration", "documentation"], "agent3@example.com"),
)  # fmt: skip


def seed() -> None:
    skills = {
        slug: Skill.objects.filter(slug=slug).first() or config.skill_create(name=name, slug=slug)
        for name, slug in SKILLS
    }
    for position, (name, slug, tier, skill, keywords) in enumerate(CATEGORIES, start=1):
        category = Category.objects.filter(slug=slug).first()
        if category is None:
            category = config.routing_category_create(
                name=name, slug=slug, default_tier=tier, required_skill=skills[skill]
            )
        rule_name = f"{name} keywords"
        if not RoutingRule.objects.filter(name=rule_name).exists():
            config.rule_create(
                name=rule_name,
                position=position * 10,
                keywords=keywords,
                set_category=category,
            )
    # Seed 004: "Is this a documentation related question?" Tier 1 answers those.
    if not RoutingRule.objects.filter(name="Documentation questions").exists():
        config.rule_create(
            name="Documentation questions",
            position=5,
            keywords=["documentation", "docs", "tutorial", "where do i find"],
            negative_keywords=["outage", "down", "broken"],
            set_tier="self_service",
            add_tags=["documentation"],
        )
    profiles: dict[str, AgentProfile] = {}
    for email, level, skill_slugs, _ in AGENTS:
        user = User.objects.filter(email=email).first()
        if user is None:
            continue
        profile = AgentProfile.objects.filter(user=user).first()
        if profile is None:
            profile = config.agent_profile_create(
                user=user,
                tier_level=level,
                skills=[skills[s] for s in skill_slugs],
                max_open_tickets=8,
            )
        profiles[email] = profile
    for email, _, _, substitute in AGENTS:
        if email in profiles and substitute in profiles and profiles[email].substitute_id is None:
            config.agent_profile_update(
                profile=profiles[email], data={"substitute": profiles[substitute]}
            )
