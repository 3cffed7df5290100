import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from communities.errors import CommunityInactive, NotMember
from core.errors import Forbidden, NotFound
from core.models import Event, EventDelivery
from tests.communities.factories import CommunityFactory, MembershipFactory
from tests.core.factories import AgentFactory, UserFactory
from tests.mail.sending import send_queued_mail
from tests.tickets.factories import TicketFactory
from tickets.errors import AssigneeNotAgent, InternalNoteNotAllowed, TicketClosed
from tickets.models import Message, Ticket, TicketEvent
from tickets.services.conversation import message_add
from tickets.services.lifecycle import (
    normalise_tags,
    ticket_assign,
    ticket_open,
    ticket_transition,
    ticket_update,
)

pytestmark = pytest.mark.django_db


def _open(community, requester, **overrides):
    fields = {"subject": "Hub is down", "description": "503 on login", "opened_by": requester}
    return ticket_open(community=community, requester=requester, **{**fields, **overrides})


def test_a_representative_opens_a_ticket_directly_with_its_first_message(
    community, representative, django_capture_on_commit_callbacks, enqueued
):
    with django_capture_on_commit_callbacks(execute=True):
        ticket = _open(community, representative, severity="high", kind="incident")

    assert (ticket.status, ticket.severity, ticket.kind, ticket.channel) == (
        "new", "high", "incident", "portal",
    )  # fmt: skip
    assert ticket.reference == f"SD-{ticket.pk}"
    assert ticket.pk > 1000
    assert list(ticket.messages.values_list("kind", "author", "body")) == [
        ("public", representative.pk, "503 on login")
    ]
    assert list(TicketEvent.objects.filter(ticket=ticket).values_list("kind", flat=True)) == [
        "opened"
    ]
    event = Event.objects.get()
    assert (event.name, event.payload, event.community_id) == (
        "ticket.opened", {"ticket_id": ticket.pk}, community.pk,
    )  # fmt: skip
    deliveries = {d.handler: d for d in EventDelivery.objects.all()}
    assert {(d.handler, d.queue, d.state) for d in deliveries.values()} == {
        ("routing.handlers.route_ticket", "routing", "pending"),
        ("slas.handlers.sync_ticket_clocks", "slas", "pending"),
        ("tickets.notifications.acknowledge_request", "default", "pending"),
        ("reports.handlers.refresh_ticket_priority", "default", "pending"),
    }
    # One message per queue, routing's first.
    assert enqueued == [
        {"kwargs": {"delivery_ids": [deliveries["routing.handlers.route_ticket"].pk]},
         "queue": "routing"},
        {"kwargs": {"delivery_ids": [deliveries["tickets.notifications.acknowledge_request"].pk,
                                     deliveries["reports.handlers.refresh_ticket_priority"].pk]},
         "queue": "default"},
        {"kwargs": {"delivery_ids": [deliveries["slas.handlers.sync_ticket_clocks"].pk]},
         "queue": "slas"},
    ]  # fmt: skip


def test_routing_is_recorded_in_the_same_transaction_and_enqueued_only_after_commit(
    community, representative, django_capture_on_commit_callbacks, enqueued
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        _open(community, representative)

    assert set(EventDelivery.objects.filter(state="pending").values_list("handler", flat=True)) == {
        "routing.handlers.route_ticket",
        "slas.handlers.sync_ticket_clocks",
        "tickets.notifications.acknowledge_request",
        "reports.handlers.refresh_ticket_priority",
    }
    assert enqueued == []
    assert len(callbacks) == 1


def test_a_members_request_waits_for_a_representatives_approval(
    community, member, representative, django_capture_on_commit_callbacks
):
    ticket = _open(community, member)

    assert ticket.status == "awaiting_approval"
    assert Event.objects.get().name == "ticket.approval_requested"


def test_the_representatives_are_asked_by_mail_and_approval_routes_the_ticket(
    community, member, representative
):
    from core.outbox import delivery_run

    ticket = _open(community, member)
    delivery_run(
        delivery_id=EventDelivery.objects.get(
            handler="tickets.notifications.ask_representatives_to_approve"
        ).pk
    )
    send_queued_mail()

    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [representative.email]
    assert mail.outbox[0].subject == f"[{ticket.reference}] Approval requested: Hub is down"
    assert f"/portal/tickets/{ticket.reference}/" in mail.outbox[0].body

    ticket_transition(ticket=ticket, name="approve", actor=representative)

    assert list(Event.objects.order_by("id").values_list("name", flat=True)) == [
        "ticket.approval_requested",
        "ticket.status_changed",
        "ticket.approved",
    ]
    assert EventDelivery.objects.filter(handler="routing.handlers.route_ticket").count() == 1


def test_a_declined_request_is_closed_and_the_requester_told_why(community, member, representative):
    from core.outbox import delivery_run

    ticket = _open(community, member)
    ticket_transition(
        ticket=ticket, name="decline", actor=representative, note="Ask your lab lead."
    )
    declined = EventDelivery.objects.get(event__name="ticket.declined")
    delivery_run(delivery_id=declined.pk)
    send_queued_mail()

    ticket.refresh_from_db()
    assert ticket.status == "closed"
    assert [m.to for m in mail.outbox] == [[member.email]]
    assert "Reason: Ask your lab lead." in mail.outbox[0].body


def test_someone_outside_the_community_cannot_open_a_ticket_for_it(community, outsider):
    with pytest.raises(NotMember) as error:
        _open(community, outsider)

    assert error.value.field == "community"
    assert not Ticket.objects.exists()
    assert not Event.objects.exists()


def test_an_inactive_community_takes_no_new_requests(representative, community):
    community.active = False
    community.save()

    with pytest.raises(CommunityInactive):
        _open(community, representative)
    assert not Ticket.objects.exists()


def test_only_agents_open_tickets_on_someone_elses_behalf(community, member, representative, agent):
    with pytest.raises(Forbidden):
        _open(community, member, opened_by=representative)

    ticket = _open(community, member, opened_by=agent, channel="desk")
    assert (ticket.requester, ticket.status, ticket.channel) == (
        member,
        "awaiting_approval",
        "desk",
    )
    assert TicketEvent.objects.get(ticket=ticket).actor == agent


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("subject", "   ", "blank"),
        ("description", "", "blank"),
        ("subject", "x" * 201, "max_length"),
        ("severity", "urgent", "invalid_choice"),
        ("kind", "complaint", "invalid_choice"),
    ],
)
def test_bad_input_is_refused_with_a_field_error_and_nothing_is_saved(
    community, representative, field, value, code
):
    with pytest.raises(ValidationError) as error:
        _open(community, representative, **{field: value})

    assert [e.code for e in error.value.error_dict[field]] == [code]
    assert not Ticket.objects.exists()
    assert not Message.objects.exists()
    assert not Event.objects.exists()


def test_an_agents_first_public_reply_is_the_first_response_and_notes_are_not():
    agent = AgentFactory.create()
    ticket = TicketFactory.create(status="in_progress")

    message_add(ticket=ticket, author=agent, body="Looking", kind="internal")
    ticket.refresh_from_db()
    assert ticket.first_responded_at is None

    reply = message_add(ticket=ticket, author=agent, body="Fixed?", kind="public")
    message_add(ticket=ticket, author=agent, body="Again", kind="public")
    ticket.refresh_from_db()
    assert ticket.first_responded_at == reply.created_at


def test_a_members_reply_brings_a_waiting_ticket_back_to_work():
    ticket = TicketFactory.create(status="waiting_on_customer")

    message_add(ticket=ticket, author=ticket.requester, body="Here are the logs")

    ticket.refresh_from_db()
    assert ticket.status == "in_progress"
    assert TicketEvent.objects.get(ticket=ticket, kind="status_changed").data["transition"] == (
        "customer_replied"
    )


def test_a_representatives_reply_reopens_a_resolved_ticket_but_a_members_does_not():
    ticket = TicketFactory.create(status="resolved")
    member = MembershipFactory.create(community=ticket.community, role="member").user
    ticket.requester = member
    ticket.save()

    message_add(ticket=ticket, author=member, body="Still broken")
    ticket.refresh_from_db()
    assert ticket.status == "resolved"

    representative = MembershipFactory.create(
        community=ticket.community, role="representative"
    ).user
    message_add(ticket=ticket, author=representative, body="Still broken for everyone")
    ticket.refresh_from_db()
    assert ticket.status == "open"


def test_members_cannot_write_internal_notes_or_reply_to_closed_tickets():
    ticket = TicketFactory.create(status="in_progress")

    with pytest.raises(InternalNoteNotAllowed):
        message_add(ticket=ticket, author=ticket.requester, body="psst", kind="internal")

    ticket.status = "closed"
    ticket.save()
    with pytest.raises(TicketClosed):
        message_add(ticket=ticket, author=ticket.requester, body="hello?")
    assert ticket.messages.count() == 0


def test_someone_who_cannot_see_the_ticket_cannot_write_on_it(outsider):
    ticket = TicketFactory.create()

    with pytest.raises(NotFound):
        message_add(ticket=ticket, author=outsider, body="hi")
    assert ticket.messages.count() == 0


def test_assigning_moves_new_and_open_tickets_to_assigned_and_back():
    agent, other = AgentFactory.create(), AgentFactory.create()
    ticket = TicketFactory.create(status="open")

    ticket_assign(ticket=ticket, assignee=agent, actor=other)
    ticket.refresh_from_db()
    assert (ticket.status, ticket.assignee) == ("assigned", agent)

    ticket_assign(ticket=ticket, assignee=None, actor=other)
    ticket.refresh_from_db()
    assert (ticket.status, ticket.assignee) == ("open", None)
    assert list(TicketEvent.objects.filter(ticket=ticket).values_list("kind", flat=True)) == [
        "assigned", "status_changed", "assigned", "status_changed",
    ]  # fmt: skip


def test_reassigning_a_ticket_in_progress_keeps_its_status():
    first, second = AgentFactory.create(), AgentFactory.create()
    ticket = TicketFactory.create(status="in_progress", assignee=first)

    ticket_assign(ticket=ticket, assignee=second, actor=first)

    ticket.refresh_from_db()
    assert (ticket.status, ticket.assignee) == ("in_progress", second)


def test_tickets_are_assigned_to_agents_only(member):
    ticket = TicketFactory.create(status="open")

    with pytest.raises(AssigneeNotAgent):
        ticket_assign(ticket=ticket, assignee=member, actor=AgentFactory.create())
    ticket.refresh_from_db()
    assert ticket.assignee is None


def test_an_agent_changes_fields_and_the_change_is_audited():
    agent = AgentFactory.create()
    ticket = TicketFactory.create(severity="medium", tier="self_service")

    ticket_update(
        ticket=ticket,
        actor=agent,
        data={
            "severity": "critical",
            "tier": "emergency",
            "tags": ["Outage", "outage", " hub  down"],
        },
    )

    ticket.refresh_from_db()
    assert (ticket.severity, ticket.tier, ticket.tags) == (
        "critical",
        "emergency",
        ["outage", "hub-down"],
    )
    event = TicketEvent.objects.get(ticket=ticket, kind="updated")
    assert event.actor == agent
    assert event.data == {
        "changes": {
            "severity": ["medium", "critical"],
            "tier": ["self_service", "emergency"],
            "tags": [[], ["outage", "hub-down"]],
        }
    }
    assert ticket.history.count() == 2


def test_members_cannot_change_a_tickets_fields():
    ticket = TicketFactory.create(severity="low")

    with pytest.raises(Forbidden):
        ticket_update(ticket=ticket, actor=ticket.requester, data={"severity": "critical"})
    ticket.refresh_from_db()
    assert ticket.severity == "low"


def test_the_status_cannot_be_changed_as_a_field():
    ticket = TicketFactory.create(status="new")

    with pytest.raises(ValidationError) as error:
        ticket_update(ticket=ticket, actor=AgentFactory.create(), data={"status": "closed"})
    assert error.value.error_dict["status"][0].code == "read_only"
    ticket.refresh_from_db()
    assert ticket.status == "new"


def test_tags_are_normalised():
    assert normalise_tags(["  GPU ", "gpu", "Data Loss", ""]) == ["gpu", "data-loss"]
    with pytest.raises(ValidationError):
        normalise_tags(["x" * 51])


def test_history_keeps_every_change_with_who_made_it():
    agent = AgentFactory.create()
    community = CommunityFactory.create()
    representative = MembershipFactory.create(community=community, role="representative").user
    ticket = _open(community, representative)

    ticket_transition(ticket=ticket, name="accept", actor=agent)

    history = ticket.history.order_by("history_date").values_list("status", "history_user")
    assert list(history) == [("new", representative.pk), ("open", agent.pk)]


def test_a_stranger_is_not_a_member(community):
    stranger = UserFactory.create()
    with pytest.raises(NotMember):
        _open(community, stranger)
