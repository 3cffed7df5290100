"""Routing a batch of tickets in one transaction (a worker with a backlog, core.outbox):
the same decisions as routing them one by one, in far fewer queries."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from core.models import EventDelivery
from core.outbox import delivery_run
from routing.models import RoutingDecision, WaitingTicket
from routing.services import config
from routing.services.routing import ticket_route, tickets_route
from tests.communities.factories import MembershipFactory
from tests.routing.factories import AgentProfileFactory, SkillFactory, route
from tickets.models import Ticket
from tickets.services.lifecycle import ticket_assign, ticket_open

pytestmark = pytest.mark.django_db

MONDAY_NOON = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture
def desk(db):
    """Two communities, three agents with room for three tickets each (one of them without
    the deployment skill), the deployment rule, and ten tickets, most needing the skill."""
    skill = SkillFactory.create(name="Deployment", slug="deployment")
    category = config.routing_category_create(
        name="Deployment", slug="deployment", default_tier="community", required_skill=skill
    )
    config.rule_create(
        name="Deployment keywords", position=10, keywords=["deploy", "upgrade"],
        set_category=category,
    )  # fmt: skip
    agents = [
        AgentProfileFactory.create(max_open_tickets=3, skills=[skill]),
        AgentProfileFactory.create(max_open_tickets=3, skills=[skill]),
        AgentProfileFactory.create(max_open_tickets=3),
    ]
    reps = [MembershipFactory.create(role="representative").user for _ in range(2)]
    memberships = [r.memberships.get() for r in reps]
    subjects = ["Deploy fails", "Upgrade stuck", "How do I log in?", "Deploy is slow"]
    tickets = [
        ticket_open(
            community=memberships[n % 2].community,
            requester=reps[n % 2],
            subject=subjects[n % 4],
            description=subjects[n % 4],
            opened_by=reps[n % 2],
        )  # fmt: skip
        for n in range(10)
    ]
    return {"agents": agents, "tickets": tickets}


def _summary(decisions: list[RoutingDecision]) -> list[tuple[object, ...]]:
    """What a decision says, without its timing."""
    return [
        (
            d.ticket_id,
            d.outcome,
            d.assignee_id,
            d.category_id,
            d.severity,
            d.tier,
            d.explanation,
            d.candidates,
            d.rules,
        )  # fmt: skip
        for d in decisions
    ]


def _state(tickets: list[Ticket]) -> list[tuple[object, ...]]:
    rows = Ticket.objects.filter(pk__in=[t.pk for t in tickets]).order_by("pk")
    return list(rows.values_list("pk", "status", "assignee_id", "category_id", "tier"))


def test_a_batch_decides_exactly_as_routing_the_tickets_one_by_one(desk):
    tickets = desk["tickets"]
    with time_machine.travel(MONDAY_NOON, tick=False):
        with transaction.atomic():
            undo = transaction.savepoint()
            one_by_one = [route(t) for t in tickets]
            expected = (_summary(one_by_one), _state(tickets), list(WaitingTicket.objects.all()))
            transaction.savepoint_rollback(undo)
        assert not RoutingDecision.objects.exists()

        batch = tickets_route(tickets=[(t.pk, "opened") for t in tickets])

    assert (_summary(batch), _state(tickets)) == expected[:2]
    assert [w.ticket_id for w in WaitingTicket.objects.all()] == [w.ticket_id for w in expected[2]]
    # Eight deployment tickets for the two skilled agents' 3 + 3: the last two wait. The
    # log-in questions (third and seventh) are for the self-service tier, where nobody is.
    assert [d.outcome for d in batch] == [
        "assigned", "assigned", "waiting", "assigned", "assigned",
        "assigned", "waiting", "assigned", "waiting", "waiting",
    ]  # fmt: skip
    skilled = [a.user_id for a in desk["agents"][:2]]
    assert sorted(d.assignee_id for d in batch if d.assignee_id) == sorted(skilled * 3)


def test_a_batch_costs_a_fraction_of_the_queries_of_single_runs(desk):
    tickets = desk["tickets"]
    with transaction.atomic():
        undo = transaction.savepoint()
        with CaptureQueriesContext(connection) as single:
            for t in tickets:
                ticket_route(ticket=t.pk, trigger="opened")
        transaction.savepoint_rollback(undo)

    with CaptureQueriesContext(connection) as batched:
        tickets_route(tickets=[(t.pk, "opened") for t in tickets])

    assert len(batched) <= len(single) * 0.6, (len(batched), len(single))


def test_tickets_routed_already_or_gone_are_passed_over(desk):
    first, second, third = desk["tickets"][:3]
    ticket_route(ticket=first.pk, trigger="opened")

    decisions = tickets_route(
        tickets=[(first.pk, "opened"), (second.pk, "opened"), (999_999, "opened"),
                 (second.pk, "approved"), (third.pk, "reroute")]
    )  # fmt: skip

    # Only the second is routed: the first was, the third's trigger is no first run.
    assert [d.ticket_id for d in decisions] == [second.pk]
    assert RoutingDecision.objects.filter(ticket=first).count() == 1


def test_a_ticket_given_to_an_agent_by_hand_keeps_them_in_a_batch(desk, agent):
    first, second = desk["tickets"][:2]
    ticket_assign(ticket=first, assignee=desk["agents"][2].user, actor=agent)

    decisions = tickets_route(tickets=[(first.pk, "opened"), (second.pk, "opened")])

    assert [(d.outcome, d.assignee_id) for d in decisions] == [
        ("kept", desk["agents"][2].user_id),
        ("assigned", desk["agents"][0].user_id),
    ]


def test_the_outbox_hands_a_backlog_of_opened_tickets_to_the_batch(desk):
    deliveries = EventDelivery.objects.filter(handler="routing.handlers.route_ticket")
    assert deliveries.count() == 10

    assert delivery_run(delivery_id=deliveries.order_by("pk")[0].pk) is True

    assert not deliveries.filter(state="pending").exists()
    assert RoutingDecision.objects.filter(trigger="opened").count() == 10
