"""The incident services: the transition table, declaring, bad input (nothing changed),
idempotency, status updates and their fan-out, postmortems and action items."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from incidents.errors import (
    FinalUpdateRequired,
    IncidentClosed,
    InvalidIncidentInput,
    InvalidTransition,
    OpenActionItems,
    TimesOutOfOrder,
    UnknownSeverity,
)
from incidents.models import (
    EntryKind,
    Incident,
    IncidentCommunity,
    Postmortem,
    StatusUpdate,
    TimelineEntry,
    UpdateReply,
)
from incidents.notify.models import Notification
from incidents.paging.models import Page
from incidents.services.lifecycle import (
    incident_assign_role,
    incident_change,
    incident_note_add,
    incident_ticket_link,
    incident_transition,
)
from incidents.services.postmortems import action_item_add, action_item_change, postmortem_save
from incidents.services.updates import (
    incident_update_post,
    update_fan_out,
    update_replies_send,
)
from incidents.states import TRANSITIONS, Status
from tests.communities.factories import CommunityFactory, MembershipFactory
from tests.core.factories import AgentFactory
from tests.incidents.factories import declare, open_ticket
from tickets.models import Message

pytestmark = pytest.mark.django_db

ALL = [s.value for s in Status]

# (from, to): allowed by the table
TABLE = {
    ("investigating", "identified"), ("investigating", "monitoring"), ("investigating", "resolved"),
    ("identified", "investigating"), ("identified", "monitoring"), ("identified", "resolved"),
    ("monitoring", "investigating"), ("monitoring", "identified"), ("monitoring", "resolved"),
    ("resolved", "investigating"), ("resolved", "postmortem"), ("resolved", "closed"),
    ("postmortem", "closed"),
}  # fmt: skip


@pytest.mark.parametrize("source", ALL)
@pytest.mark.parametrize("target", ALL)
def test_the_transition_table(source, target):
    allowed = target in TRANSITIONS[source]
    assert allowed == ((source, target) in TABLE)


def _at(incident: Incident, status: str) -> Incident:
    """Bring an incident to `status` through the services."""
    agent = incident.commander
    path = {
        "investigating": [],
        "identified": ["identified"],
        "monitoring": ["monitoring"],
        "resolved": ["resolved"],
        "postmortem": ["resolved", "postmortem"],
        "closed": ["resolved", "postmortem", "closed"],
    }[status]
    for step in path:
        if step == "resolved":
            incident_update_post(incident=incident, actor=agent, body="Fixed.", status="resolved")
        elif step in ("identified", "monitoring"):
            incident_transition(incident=incident, to=step, actor=agent)
        else:
            incident_transition(incident=incident, to=step, actor=agent)
    incident.refresh_from_db()
    return incident


@pytest.mark.parametrize("source", ALL)
@pytest.mark.parametrize("target", ALL)
def test_incident_transition_follows_the_table(source, target):
    incident = _at(declare(maintenance=True, severity="SEV4"), source)
    entries = TimelineEntry.objects.count()
    if source == target:
        assert (
            incident_transition(incident=incident, to=target, actor=incident.commander).status
            == source
        )
        assert TimelineEntry.objects.count() == entries
        return
    if target == "resolved" and (source, target) in TABLE:
        with pytest.raises(FinalUpdateRequired):
            incident_transition(incident=incident, to=target, actor=incident.commander)
    elif (source, target) in TABLE:
        moved = incident_transition(incident=incident, to=target, actor=incident.commander)
        assert moved.status == target
    else:
        with pytest.raises(InvalidTransition):
            incident_transition(incident=incident, to=target, actor=incident.commander)
        incident.refresh_from_db()
        assert incident.status == source


def test_declare_sets_commander_pages_and_starts_the_timeline(agent):
    ticket = open_ticket()
    incident = declare(agent, tickets=[ticket], severity="SEV1")
    assert incident.commander == agent
    assert incident.page_id is not None
    page = Page.objects.get(pk=incident.page_id)
    assert (page.cause, page.dedup_key, page.severity) == (
        "incident",
        f"incident:{incident.pk}",
        "critical",
    )
    assert incident.next_update_due_at == incident.declared_at + timedelta(minutes=30)
    assert incident.first_update_due_at == incident.declared_at + timedelta(minutes=15)
    kinds = list(incident.timeline.values_list("kind", flat=True))
    assert kinds == ["declared", "status", "ticket", "community", "page"]
    assert list(
        IncidentCommunity.objects.filter(incident=incident).values_list("community", flat=True)
    ) == [ticket.community_id]


def test_declare_with_a_key_declares_once(agent):
    first = declare(agent, key="k-1")
    assert declare(agent, key="k-1").pk == first.pk
    assert Incident.objects.count() == 1


def test_maintenance_does_not_page(agent):
    incident = declare(agent, maintenance=True, severity="SEV4")
    assert incident.page is None
    assert Page.objects.count() == 0


@pytest.mark.parametrize(
    ("changes", "error", "field"),
    [
        ({"severity": "SEV9"}, UnknownSeverity, "severity"),
        ({"title": "  "}, InvalidIncidentInput, "title"),
    ],
)
def test_declare_refuses_bad_input_and_changes_nothing(agent, changes, error, field):
    with pytest.raises(error) as caught:
        declare(agent, **changes)
    assert caught.value.field == field
    assert Incident.objects.count() == 0
    assert Page.objects.count() == 0


def test_declare_refuses_detection_before_impact(agent):
    now = timezone.now()
    with pytest.raises(TimesOutOfOrder):
        declare(
            agent,
            impact_started_at=now - timedelta(minutes=5),
            detected_at=now - timedelta(minutes=10),
        )
    assert Incident.objects.count() == 0


def test_resolved_before_detected_is_refused_and_changes_nothing(agent):
    incident = _at(declare(agent), "resolved")
    before = (incident.resolved_at, TimelineEntry.objects.count())
    with pytest.raises(TimesOutOfOrder) as caught:
        incident_change(
            incident=incident, actor=agent, resolved_at=incident.detected_at - timedelta(minutes=1)
        )
    assert caught.value.field == "resolved_at"
    incident.refresh_from_db()
    assert (incident.resolved_at, TimelineEntry.objects.count()) == before


def test_an_empty_update_is_refused(agent):
    incident = declare(agent)
    with pytest.raises(InvalidIncidentInput) as caught:
        incident_update_post(incident=incident, actor=agent, body="   ")
    assert caught.value.field == "body"
    assert StatusUpdate.objects.count() == 0


def test_resolving_needs_the_final_update_and_sets_the_postmortem_due(agent):
    incident = declare(agent, severity="SEV1")
    with pytest.raises(FinalUpdateRequired):
        incident_transition(incident=incident, to="resolved", actor=agent)
    update = incident_update_post(
        incident=incident, actor=agent, body="All fixed.", status="resolved"
    )
    incident.refresh_from_db()
    assert incident.status == "resolved"
    assert incident.resolved_at == update.created_at
    assert incident.next_update_due_at is None
    assert incident.postmortem_due_at == update.created_at + timedelta(hours=24)


def test_an_update_moves_the_next_due_time_by_the_cadence(agent):
    incident = declare(agent, severity="SEV2")
    with time_machine.travel(timezone.now() + timedelta(minutes=20), tick=False):
        update = incident_update_post(
            incident=incident, actor=agent, body="Looking.", status="identified"
        )
    incident.refresh_from_db()
    assert incident.status == "identified"
    assert incident.next_update_due_at == update.created_at + timedelta(minutes=60)
    assert incident.first_public_update_at == update.created_at


def test_an_update_with_a_key_is_posted_once(agent):
    incident = declare(agent)
    a = incident_update_post(incident=incident, actor=agent, body="One.", key="u1")
    b = incident_update_post(incident=incident, actor=agent, body="One.", key="u1")
    assert a.pk == b.pk
    assert StatusUpdate.objects.count() == 1


def test_fan_out_notifies_representatives_and_replies_on_every_ticket_once(agent):
    a, b = CommunityFactory.create(name="Alpha"), CommunityFactory.create(name="Beta")
    t1, t2, t3 = open_ticket(a), open_ticket(a), open_ticket(b)
    incident = declare(agent, tickets=[t1, t2, t3])
    update = incident_update_post(
        incident=incident, actor=agent, body="Dear [Customer Name], we are on it."
    )
    assert update.tickets_total == 3
    batches = update_fan_out(update_id=update.pk)
    assert sum(len(b) for b in batches) == 3
    assert update_fan_out(update_id=update.pk) == batches  # nothing made twice
    for batch in batches:
        assert update_replies_send(update_id=update.pk, reply_ids=batch) == len(batch)
        assert update_replies_send(update_id=update.pk, reply_ids=batch) == 0
    bodies = dict(
        Message.objects.filter(kind="public", author=agent).values_list("ticket_id", "body")
    )
    assert bodies == {
        t1.pk: "Dear Alpha, we are on it.",
        t2.pk: "Dear Alpha, we are on it.",
        t3.pk: "Dear Beta, we are on it.",
    }
    assert UpdateReply.objects.filter(sent_at__isnull=False).count() == 3
    update.refresh_from_db()
    assert update.fanout_done_at is not None
    told = Notification.objects.filter(key__startswith=f"incident-update/{update.pk}/")
    # the three tickets' requesters are representatives of Alpha (2) and Beta (1)
    assert told.count() == 3
    assert sorted(told.values_list("body", flat=True)) == [
        "Dear Alpha, we are on it.", "Dear Alpha, we are on it.", "Dear Beta, we are on it.",
    ]  # fmt: skip


def test_roles_are_reassigned_audited_and_told(agent):
    incident = declare(agent)
    lead = AgentFactory.create()
    incident_assign_role(incident=incident, role="communications_lead", user=lead, actor=agent)
    incident_assign_role(incident=incident, role="communications_lead", user=lead, actor=agent)
    entries = incident.timeline.filter(kind=EntryKind.ROLE)
    assert entries.count() == 1
    assert entries.get().public is False
    assert Notification.objects.filter(recipient=lead, source="incident").count() == 1
    with pytest.raises(InvalidIncidentInput):
        incident_assign_role(incident=incident, role="commander", user=None, actor=agent)
    outsider = MembershipFactory.create().user
    with pytest.raises(InvalidIncidentInput):
        incident_assign_role(incident=incident, role="technical_lead", user=outsider, actor=agent)


def test_a_note_can_be_back_dated_but_not_future(agent):
    incident = declare(agent)
    past = timezone.now() - timedelta(hours=1)
    note = incident_note_add(incident=incident, actor=agent, text="Alert fired", at=past)
    assert (note.at, note.public, note.kind) == (past, False, "note")
    with pytest.raises(TimesOutOfOrder):
        incident_note_add(
            incident=incident, actor=agent, text="x", at=timezone.now() + timedelta(hours=1)
        )
    with pytest.raises(InvalidIncidentInput):
        incident_note_add(incident=incident, actor=agent, text=" ")


def test_postmortem_imports_the_timeline_and_closing_needs_action_items_done(agent):
    incident = _at(declare(agent, severity="SEV1"), "resolved")
    with pytest.raises(InvalidTransition):
        incident_transition(incident=incident, to="closed", actor=agent)
    incident_transition(incident=incident, to="postmortem", actor=agent)
    postmortem = Postmortem.objects.get(incident=incident)
    assert "Declared SEV1" in postmortem.timeline
    postmortem_save(incident=incident, actor=agent, root_cause="A full disk.")
    with pytest.raises(InvalidIncidentInput) as caught:
        action_item_add(incident=incident, actor=agent, title="Alert on disk", owner=None)
    assert caught.value.field == "owner"
    item = action_item_add(incident=incident, actor=agent, title="Alert on disk", owner=agent)
    with pytest.raises(OpenActionItems):
        incident_transition(incident=incident, to="closed", actor=agent)
    with pytest.raises(InvalidIncidentInput):
        action_item_change(item=item, actor=agent, status="deferred")
    action_item_change(item=item, actor=agent, status="deferred", deferred_reason="Next quarter")
    closed = incident_transition(incident=incident, to="closed", actor=agent)
    assert closed.status == "closed"
    assert Postmortem.objects.get(incident=incident).published_at is not None
    with pytest.raises(IncidentClosed):
        postmortem_save(incident=incident, actor=agent, summary="late")


def test_linking_a_ticket_adds_its_community(agent):
    incident = declare(agent)
    ticket = open_ticket()
    incident_ticket_link(incident=incident, ticket=ticket, actor=agent)
    incident_ticket_link(incident=incident, ticket=ticket, actor=agent)
    assert incident.ticket_links.count() == 1
    assert list(incident.affected.values_list("community_id", flat=True)) == [ticket.community_id]


def test_an_untouched_postmortem_section_from_a_browser_is_not_a_change(agent):
    incident = _at(declare(agent, maintenance=True), "postmortem")
    postmortem = Postmortem.objects.get(incident=incident)
    sent = postmortem.timeline.replace("\n", "\r\n")
    postmortem_save(incident=incident, actor=agent, timeline=sent, root_cause="Disk")
    entry = incident.timeline.filter(kind="postmortem").last()
    assert entry is not None
    assert entry.text == "Postmortem edited: root cause"


def test_a_batch_stops_when_its_time_is_spent_and_says_what_is_left(agent):
    from incidents.services.updates import replies_left

    tickets = [open_ticket(), open_ticket()]
    incident = declare(agent, tickets=tickets)
    update = incident_update_post(incident=incident, actor=agent, body="On it.")
    (batch,) = update_fan_out(update_id=update.pk)
    assert update_replies_send(update_id=update.pk, reply_ids=batch, time_budget=-1) == 0
    assert replies_left(update_id=update.pk, reply_ids=batch) == batch
    assert update_replies_send(update_id=update.pk, reply_ids=batch, time_budget=60) == 2
    assert replies_left(update_id=update.pk, reply_ids=batch) == []
