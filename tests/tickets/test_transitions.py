"""Every (status, transition) pair, through the one service that applies transitions."""

import pytest

from core.models import Event
from tests.communities.factories import MembershipFactory
from tests.core.factories import AgentFactory
from tests.tickets.factories import TicketFactory
from tickets.errors import InvalidTransition, ReasonRequired, TransitionNotAllowed
from tickets.models import TicketEvent
from tickets.services.lifecycle import ticket_transition
from tickets.states import TRANSITIONS, TicketStatus

pytestmark = pytest.mark.django_db

STATUSES = [
    "new", "awaiting_approval", "open", "assigned", "in_progress",
    "waiting_on_customer", "pending", "resolved", "closed",
]  # fmt: skip
NAMES = [
    "approve", "decline", "accept", "assign", "unassign", "start_work", "wait_on_customer",
    "customer_replied", "plan", "resume", "resolve", "confirm", "close", "reopen", "merge",
]  # fmt: skip
_: str | None = None
# Rows: statuses as above. Columns: transitions as above. Cell: the status reached, or _ (refused).
EXPECTED = {
    "new":                 [_, _, "open", "assigned", _, "in_progress", "waiting_on_customer", _, _, _, "resolved", _, "closed", _, "closed"],
    "awaiting_approval":   ["open", "closed", _, _, _, _, _, _, _, _, _, _, _, _, "closed"],
    "open":                [_, _, _, "assigned", _, "in_progress", "waiting_on_customer", _, "pending", _, "resolved", _, "closed", _, "closed"],
    "assigned":            [_, _, _, _, "open", "in_progress", "waiting_on_customer", _, "pending", _, "resolved", _, "closed", _, "closed"],
    "in_progress":         [_, _, _, _, _, _, "waiting_on_customer", _, "pending", _, "resolved", _, "closed", _, "closed"],
    "waiting_on_customer": [_, _, _, _, _, _, _, "in_progress", "pending", "in_progress", "resolved", _, "closed", _, "closed"],
    "pending":             [_, _, _, _, _, _, "waiting_on_customer", _, _, "in_progress", "resolved", _, "closed", _, "closed"],
    "resolved":            [_, _, _, _, _, _, _, _, _, _, _, "closed", "closed", "open", "closed"],
    "closed":              [_, _, _, _, _, _, _, _, _, _, _, _, _, "open", _],
}  # fmt: skip


def test_the_table_names_every_status_and_transition():
    assert sorted(STATUSES) == sorted(TicketStatus.values)
    assert sorted(NAMES) == sorted(TRANSITIONS)


CASES = [
    (status, name, EXPECTED[status][column])
    for status in STATUSES
    for column, name in enumerate(NAMES)
]


@pytest.mark.parametrize(("status", "name", "target"), CASES)
def test_transition(status, name, target):
    # given: an agent who is also the requester and a representative, so only the
    # ticket's status (and assignee, for assign/unassign) decides
    actor = AgentFactory.create()
    ticket = TicketFactory.create(status=status, requester=actor)
    MembershipFactory.create(community=ticket.community, user=actor, role="representative")
    if name == "assign":
        ticket.assignee = AgentFactory.create()
        ticket.save()
    events_before = TicketEvent.objects.count()
    outbox_before = Event.objects.count()

    if target is None:
        with pytest.raises(InvalidTransition) as error:
            ticket_transition(ticket=ticket, name=name, actor=actor, note="because")
        ticket.refresh_from_db()
        assert error.value.code == "invalid_transition"
        assert ticket.status == status
        assert TicketEvent.objects.count() == events_before
        assert Event.objects.count() == outbox_before
        return

    result = ticket_transition(ticket=ticket, name=name, actor=actor, note="because")
    ticket.refresh_from_db()
    assert result.status == ticket.status == target
    event = TicketEvent.objects.get(ticket=ticket, kind="status_changed")
    assert event.actor == actor
    assert event.data == {
        "transition": name,
        "previous": status,
        "status": target,
        "note": "because",
    }


def test_assign_needs_an_assignee_and_unassign_needs_none():
    agent = AgentFactory.create()
    open_ticket = TicketFactory.create(status="open")
    assigned_ticket = TicketFactory.create(status="assigned", assignee=agent)

    with pytest.raises(InvalidTransition):
        ticket_transition(ticket=open_ticket, name="assign", actor=agent)
    with pytest.raises(InvalidTransition):
        ticket_transition(ticket=assigned_ticket, name="unassign", actor=agent)


@pytest.mark.parametrize(
    ("name", "status", "role"),
    [
        ("resolve", "in_progress", "representative"),
        ("resolve", "in_progress", "requester"),
        ("close", "open", "representative"),
        ("accept", "new", "representative"),
        ("approve", "awaiting_approval", "requester"),
        ("decline", "awaiting_approval", "requester"),
        ("reopen", "resolved", "requester"),
        ("confirm", "resolved", "agent"),
        ("approve", "awaiting_approval", "other_representative"),
    ],
)
def test_who_may_not_apply_a_transition(name, status, role):
    ticket = TicketFactory.create(status=status)
    requester = MembershipFactory.create(community=ticket.community, role="member").user
    ticket.requester = requester
    ticket.save()
    actor = {
        "representative": lambda: (
            MembershipFactory.create(community=ticket.community, role="representative").user
        ),
        "requester": lambda: requester,
        "agent": AgentFactory.create,
        "other_representative": lambda: MembershipFactory.create(role="representative").user,
    }[role]()

    with pytest.raises(TransitionNotAllowed):
        ticket_transition(ticket=ticket, name=name, actor=actor, note="x")

    ticket.refresh_from_db()
    assert ticket.status == status
    assert not TicketEvent.objects.filter(ticket=ticket).exists()


@pytest.mark.parametrize(
    ("name", "status", "role", "target"),
    [
        ("approve", "awaiting_approval", "representative", "open"),
        ("decline", "awaiting_approval", "representative", "closed"),
        ("confirm", "resolved", "requester", "closed"),
        ("confirm", "resolved", "representative", "closed"),
        ("reopen", "resolved", "representative", "open"),
        ("reopen", "closed", "representative", "open"),
        ("resolve", "in_progress", "agent", "resolved"),
    ],
)
def test_who_may_apply_a_transition(name, status, role, target):
    ticket = TicketFactory.create(status=status)
    requester = MembershipFactory.create(community=ticket.community, role="member").user
    ticket.requester = requester
    ticket.save()
    actor = {
        "representative": lambda: (
            MembershipFactory.create(community=ticket.community, role="representative").user
        ),
        "requester": lambda: requester,
        "agent": AgentFactory.create,
    }[role]()

    assert ticket_transition(ticket=ticket, name=name, actor=actor, note="x").status == target


def test_the_system_applies_only_automatic_transitions():
    ticket = TicketFactory.create(status="in_progress")

    with pytest.raises(TransitionNotAllowed):
        ticket_transition(ticket=ticket, name="resolve", actor=None)

    waiting = TicketFactory.create(status="waiting_on_customer")
    assert (
        ticket_transition(ticket=waiting, name="customer_replied", actor=None).status
        == "in_progress"
    )


def test_decline_needs_a_reason_and_changes_nothing_without_one():
    ticket = TicketFactory.create(status="awaiting_approval")
    representative = MembershipFactory.create(
        community=ticket.community, role="representative"
    ).user

    with pytest.raises(ReasonRequired) as error:
        ticket_transition(ticket=ticket, name="decline", actor=representative, note="   ")

    assert error.value.field == "note"
    ticket.refresh_from_db()
    assert ticket.status == "awaiting_approval"


def test_resolving_and_closing_stamp_their_times_and_reopening_clears_them():
    agent = AgentFactory.create()
    ticket = TicketFactory.create(status="in_progress")
    representative = MembershipFactory.create(
        community=ticket.community, role="representative"
    ).user

    ticket_transition(ticket=ticket, name="resolve", actor=agent)
    ticket.refresh_from_db()
    assert ticket.resolved_at is not None
    assert ticket.closed_at is None

    ticket_transition(ticket=ticket, name="confirm", actor=representative)
    ticket.refresh_from_db()
    assert ticket.closed_at is not None

    ticket_transition(ticket=ticket, name="reopen", actor=representative)
    ticket.refresh_from_db()
    assert (ticket.status, ticket.resolved_at, ticket.closed_at) == ("open", None, None)


def test_starting_work_on_an_unassigned_ticket_assigns_the_agent():
    agent = AgentFactory.create()
    ticket = TicketFactory.create(status="open")

    ticket_transition(ticket=ticket, name="start_work", actor=agent)

    ticket.refresh_from_db()
    assert (ticket.status, ticket.assignee) == ("in_progress", agent)
    assert list(TicketEvent.objects.filter(ticket=ticket).values_list("kind", flat=True)) == [
        "status_changed",
        "assigned",
    ]
