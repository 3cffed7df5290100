import factory

from incidents.notify.models import ContactMethod, NotificationRule
from tests.core.factories import AgentFactory


class ContactMethodFactory(factory.django.DjangoModelFactory[ContactMethod]):
    class Meta:
        model = ContactMethod

    user = factory.SubFactory(AgentFactory)
    kind = "email"
    address = factory.Sequence(lambda n: f"pager{n}@desk.example")


class RuleFactory(factory.django.DjangoModelFactory[NotificationRule]):
    class Meta:
        model = NotificationRule

    user = factory.SubFactory(AgentFactory)
    importance = "default"
    position = factory.Sequence(lambda n: n)
    channel = "email"
    delay_minutes = 0
