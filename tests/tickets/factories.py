import factory

from tests.communities.factories import CommunityFactory, MembershipFactory
from tickets.models import Message, Ticket
from tickets.states import TicketStatus


class TicketFactory(factory.django.DjangoModelFactory[Ticket]):
    """A ticket whose requester is a member of its community (a representative by default)."""

    class Meta:
        model = Ticket

    community = factory.SubFactory(CommunityFactory)
    requester = factory.LazyAttribute(
        lambda o: MembershipFactory.create(community=o.community, role="representative").user
    )
    subject = factory.Sequence(lambda n: f"Ticket subject {n}")
    description = "Something is not working as it should."
    status = TicketStatus.NEW


class MessageFactory(factory.django.DjangoModelFactory[Message]):
    class Meta:
        model = Message

    ticket = factory.SubFactory(TicketFactory)
    author = factory.LazyAttribute(lambda o: o.ticket.requester)
    kind = Message.Kind.PUBLIC
    body = "A reply."
