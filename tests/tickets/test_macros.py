import pytest

from tests.core.factories import AgentFactory
from tests.tickets.factories import TicketFactory
from tickets.services.macros import macro_render

pytestmark = pytest.mark.django_db


def test_placeholders_are_filled_and_nothing_else_is_evaluated():
    agent = AgentFactory.create(first_name="Lena")
    ticket = TicketFactory.create(subject="Quota")
    ticket.requester.first_name = "Ada"

    body = (
        "Hi {{ requester.first_name }}, about {{ticket.reference}} ({{ ticket.subject }}) for "
        "{{ community.name }}. {{ settings.SECRET_KEY }} {% debug %} {{ requester.password }} — {{ agent.first_name }}"
    )

    assert macro_render(body=body, ticket=ticket, agent=agent) == (
        f"Hi Ada, about {ticket.reference} (Quota) for {ticket.community.name}. "
        "{{ settings.SECRET_KEY }} {% debug %} {{ requester.password }} — Lena"
    )


def test_a_requester_without_a_first_name_is_greeted_by_their_display_name():
    ticket = TicketFactory.create()
    ticket.requester.first_name = ""
    ticket.requester.last_name = ""

    assert macro_render(
        body="Hi {{requester.first_name}}", ticket=ticket, agent=AgentFactory.create()
    ) == (f"Hi {ticket.requester.email}")
