"""The stored priority re-ranked many tickets at a time: the same scores and reasons as one
ticket at a time, in a number of queries that does not grow with the tickets, and a backlog
of refresh deliveries taken together by one worker."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from communities.services import time_entry_log
from core.models import EventDelivery
from core.outbox import delivery_run
from reports.priority import ticket_priority_refresh, tickets_priority_refresh
from tests.communities.factories import CommunityFactory, MembershipFactory, SupportBudgetFactory
from tests.tickets.factories import TicketFactory
from tickets.models import Ticket, TicketLink
from tickets.services.lifecycle import ticket_open

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
REFRESH = "reports.handlers.refresh_ticket_priority"


def a_mixed_desk(agent) -> list[Ticket]:
    """Tickets with every input of the score: a budget partly used, an incident, funding,
    a link, an incident of two communities, no budget at all."""
    from incidents.models import Incident, IncidentCommunity, IncidentTicket

    budgeted = CommunityFactory.create(time_zone="UTC")
    SupportBudgetFactory.create(community=budgeted, hours=10, period="month")
    plain, other = CommunityFactory.create(), CommunityFactory.create()
    tickets = [
        TicketFactory.create(community=budgeted, kind="question"),
        TicketFactory.create(community=budgeted, kind="incident"),
        TicketFactory.create(community=plain, kind="change_request", funded=True),
        TicketFactory.create(community=plain, kind="question"),
        TicketFactory.create(community=plain, kind="question"),
        TicketFactory.create(community=other, kind="question"),
    ]
    TicketLink.objects.create(from_ticket=tickets[3], to_ticket=tickets[4])
    incident = Incident.objects.create(
        title="Storage down", severity="SEV2", declared_by=agent, commander=agent,
        impact_started_at=NOW, detected_at=NOW,
    )  # fmt: skip
    for community in (other, budgeted):
        IncidentCommunity.objects.create(incident=incident, community=community)
    IncidentTicket.objects.create(incident=incident, ticket=tickets[5])
    time_entry_log(ticket=tickets[0], agent=agent, minutes=150)
    return tickets


def test_a_batch_ranks_each_ticket_as_it_would_be_ranked_alone(agent):
    with time_machine.travel(NOW, tick=False):
        tickets = a_mixed_desk(agent)
        alone = {t.pk: ticket_priority_refresh(ticket_id=t.pk) for t in tickets}
        stored = dict(Ticket.objects.values_list("pk", "priority_reasons"))
        Ticket.objects.update(priority_score=0, priority_reasons=[])

        together = tickets_priority_refresh(ticket_ids=[t.pk for t in reversed(tickets)])

    assert together == alone
    assert [p.score for p in alone.values()] == [107, 1000, 450, 50, 50, 250]
    assert dict(Ticket.objects.values_list("pk", "priority_score")) == {
        pk: p.score for pk, p in alone.items()
    }
    assert dict(Ticket.objects.values_list("pk", "priority_reasons")) == stored


def test_a_batch_costs_the_same_queries_for_two_tickets_as_for_six(agent):
    with time_machine.travel(NOW, tick=False):
        tickets = a_mixed_desk(agent)
        with CaptureQueriesContext(connection) as two:
            tickets_priority_refresh(ticket_ids=[t.pk for t in tickets[:2]])
        Ticket.objects.update(priority_score=0, priority_reasons=[])
        with CaptureQueriesContext(connection) as six:
            tickets_priority_refresh(ticket_ids=[t.pk for t in tickets])

    # The lock, the budgets (two), the links, the incidents, one UPDATE.
    assert len(two) == len(six) == 6


def test_a_score_that_did_not_move_is_not_written_again(agent):
    with time_machine.travel(NOW, tick=False):
        tickets = a_mixed_desk(agent)
        tickets_priority_refresh(ticket_ids=[t.pk for t in tickets])
        with CaptureQueriesContext(connection) as again:
            tickets_priority_refresh(ticket_ids=[t.pk for t in tickets])

    assert not [q for q in again.captured_queries if q["sql"].startswith("UPDATE")]


def test_a_ticket_that_is_gone_is_left_out():
    assert tickets_priority_refresh(ticket_ids=[10**9]) == {}


def test_a_backlog_of_opened_tickets_is_re_ranked_in_one_batch():
    community = CommunityFactory.create()
    requester = MembershipFactory.create(community=community, role="representative").user
    opened = [
        ticket_open(
            community=community,
            requester=requester,
            subject=f"Hub is down {n}",
            description="503 on login",
            opened_by=requester,
            kind=kind,
        )  # fmt: skip
        for n, kind in enumerate(["question", "incident", "question"])
    ]
    refreshes = EventDelivery.objects.filter(handler=REFRESH).order_by("pk")
    assert Ticket.objects.filter(priority_reasons=[]).count() == 3

    assert delivery_run(delivery_id=refreshes[1].pk) is True

    assert set(refreshes.values_list("state", flat=True)) == {"done"}
    scores = dict(Ticket.objects.values_list("pk", "priority_score"))
    assert [scores[t.pk] for t in opened] == [50, 1000, 50]
