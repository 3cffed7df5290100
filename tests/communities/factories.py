from decimal import Decimal

import factory

from communities.models import Community, Membership, ServicePlan, SupportBudget
from tests.core.factories import UserFactory


class ServicePlanFactory(factory.django.DjangoModelFactory[ServicePlan]):
    class Meta:
        model = ServicePlan

    name = factory.Sequence(lambda n: f"Plan {n}")
    slug = factory.Sequence(lambda n: f"plan-{n}")
    uptime_guarantee = Decimal("99.900")
    downtime_credit_percent = 100


class CommunityFactory(factory.django.DjangoModelFactory[Community]):
    class Meta:
        model = Community

    name = factory.Sequence(lambda n: f"Community {n}")
    slug = factory.Sequence(lambda n: f"community-{n}")
    time_zone = "Europe/Berlin"
    service_plan = factory.SubFactory(ServicePlanFactory)


class MembershipFactory(factory.django.DjangoModelFactory[Membership]):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    community = factory.SubFactory(CommunityFactory)
    role = Membership.Role.MEMBER


class RepresentativeFactory(MembershipFactory):
    role = Membership.Role.REPRESENTATIVE


class SupportBudgetFactory(factory.django.DjangoModelFactory[SupportBudget]):
    class Meta:
        model = SupportBudget

    community = factory.SubFactory(CommunityFactory)
    hours = Decimal("10.00")
    period = SupportBudget.Period.MONTH
