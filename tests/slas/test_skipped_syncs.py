"""Status and field changes that cannot move a clock get no sync of their own
(`when` of the SLA reactions): the next sync replays them, and after every change the
clocks are exactly what they would be had every event been synced."""

from datetime import timedelta

import pytest
import time_machine

from core import outbox
from core.models import EventDelivery
from slas.handlers import status_change_matters, update_matters
from slas.models import ClockEvent, SLATarget
from tests.slas.conftest import berlin, sync
from tickets.services.conversation import message_add
from tickets.services.lifecycle import ticket_open, ticket_transition, ticket_update
from tickets.states import TRANSITIONS

pytestmark = pytest.mark.django_db

SYNC = "slas.handlers.sync_ticket_clocks"


def test_only_changes_between_statuses_the_clocks_treat_alike_are_skipped():
    skipped = {
        (name, str(source))
        for name, transition in TRANSITIONS.items()
        for source in transition.sources
        if not status_change_matters(
            {"transition": name, "previous": source, "status": transition.target}
        )
    }
    assert skipped == {
        ("accept", "new"),
        ("assign", "new"),
        ("assign", "open"),
        ("unassign", "assigned"),
        ("start_work", "new"),
        ("start_work", "open"),
        ("start_work", "assigned"),
    }


@pytest.mark.parametrize(
    ("fields", "matters"),
    [
        (["tier"], False),
        (["category", "tags", "tier"], False),
        (["severity"], True),
        (["kind", "tier"], True),
        ([], False),
    ],
)
def test_only_severity_and_kind_changes_are_synced(fields, matters):
    assert update_matters({"fields": fields}) is matters


def _snapshot(ticket):
    targets = list(
        SLATarget.objects.filter(ticket=ticket)
        .order_by("metric", "created_at", "id")
        .values(
            "metric", "state", "policy", "target_minutes", "started_at", "due_at", "warn_at",
            "paused_since", "paused_seconds", "pauses", "met_at", "cancelled_at", "used_seconds",
        )
    )  # fmt: skip
    events = list(
        ClockEvent.objects.filter(ticket=ticket)
        .order_by("at", "target__metric", "kind")
        .values_list("target__metric", "kind", "at", "data")
    )
    return targets, events


WALKS = {
    "assigned, worked, waited, answered, resolved": [
        "assign", "customer message", "start_work", "wait_on_customer", "customer message",
        "agent reply", "resolve",
    ],
    "accepted, assigned, unassigned, raised, planned, resumed": [
        "accept", "assign", "agent reply", "unassign", "severity high", "tier expert",
        "start_work", "plan", "resume", "customer message", "resolve", "reopen", "close",
    ],
}  # fmt: skip


def _step(ticket, step, desk):
    if step == "customer message":
        message_add(ticket=ticket, author=desk.representative, body="Any news?")
    elif step == "agent reply":
        message_add(ticket=ticket, author=desk.agent, body="Looking into it.")
    elif step.startswith(("severity ", "tier ")):
        field, value = step.split()
        ticket_update(ticket=ticket, actor=desk.agent, data={field: value}, reason="triage")
    elif step in ("assign", "unassign"):  # the assignee's change moves the status
        assignee = desk.agent if step == "assign" else None
        ticket_update(ticket=ticket, actor=desk.agent, data={"assignee": assignee})
    else:
        ticket_transition(ticket=ticket, name=step, actor=desk.agent)
    ticket.refresh_from_db()


def _run_its_syncs(ticket):
    """What the `slas` workers run: the deliveries the outbox recorded for this ticket (the
    first may take the others along in a batch)."""
    pending = EventDelivery.objects.filter(
        handler=SYNC, state="pending", event__payload__ticket_id=ticket.pk
    ).order_by("pk")
    for delivery_id in pending.values_list("pk", flat=True):
        outbox.delivery_run(delivery_id=delivery_id)
    assert not pending.exists()


@pytest.mark.parametrize("walk", WALKS.values(), ids=WALKS.keys())
def test_clocks_are_always_as_if_every_event_were_synced(desk, walk):
    def open_one():
        return ticket_open(
            community=desk.community, requester=desk.representative, subject="Hub down",
            description="Every login returns 503.", opened_by=desk.representative,
        )  # fmt: skip

    at = berlin("2024-06-03 10:00")
    with time_machine.travel(at, tick=False) as clock:
        every, filtered = open_one(), open_one()
        sync(every)
        _run_its_syncs(filtered)
        for step in walk:
            at += timedelta(minutes=47)
            clock.move_to(at)
            _step(every, step, desk)
            sync(every)
            _step(filtered, step, desk)
            _run_its_syncs(filtered)
            assert _snapshot(filtered) == _snapshot(every), f"after {step}"
    kinds = {kind for _metric, kind, _at, _data in _snapshot(every)[1]}
    assert {"armed", "paused", "resumed", "met"} <= kinds  # the walk moved the clocks
    synced = EventDelivery.objects.filter(handler=SYNC, event__payload__ticket_id=filtered.pk)
    names = list(synced.order_by("pk").values_list("event__name", flat=True))
    assert len(names) < len(walk) + 1  # some changes had no sync of their own
