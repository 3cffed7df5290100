import factory

from routing.models import AgentProfile, RoutingDecision, RoutingRule, Skill, Team
from routing.services.routing import ticket_route
from tests.core.factories import AgentFactory
from tickets.models import Category


class SkillFactory(factory.django.DjangoModelFactory[Skill]):
    class Meta:
        model = Skill

    name = factory.Sequence(lambda n: f"Skill {n}")
    slug = factory.Sequence(lambda n: f"skill-{n}")


class CategoryFactory(factory.django.DjangoModelFactory[Category]):
    class Meta:
        model = Category

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.Sequence(lambda n: f"category-{n}")
    default_tier = "community"


class AgentProfileFactory(factory.django.DjangoModelFactory[AgentProfile]):
    """An available agent at tier 2 with room for 10 tickets, on duty around the clock."""

    class Meta:
        model = AgentProfile
        skip_postgeneration_save = True

    user = factory.SubFactory(AgentFactory)
    tier_level = 2
    max_open_tickets = 10
    status = AgentProfile.Status.AVAILABLE

    @factory.post_generation
    def skills(self, create, extracted, **kwargs):
        if create and extracted:
            self.skills.set(extracted)


class TeamFactory(factory.django.DjangoModelFactory[Team]):
    class Meta:
        model = Team
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Team {n}")
    tier = "expert"

    @factory.post_generation
    def members(self, create, extracted, **kwargs):
        if create and extracted:
            self.members.set(extracted)


class RoutingRuleFactory(factory.django.DjangoModelFactory[RoutingRule]):
    class Meta:
        model = RoutingRule
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Rule {n}")
    position = factory.Sequence(lambda n: (n + 1) * 10)
    keywords = factory.LazyFunction(lambda: ["deploy"])

    @factory.post_generation
    def communities(self, create, extracted, **kwargs):
        if create and extracted:
            self.communities.set(extracted)


def route(ticket, trigger="opened", actor=None) -> RoutingDecision:
    """ticket_route, for a run that must happen (not a repeat of the first one)."""
    decision = ticket_route(ticket=ticket, trigger=trigger, actor=actor)
    assert decision is not None
    return decision
