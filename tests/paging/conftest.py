"""Fixtures of the paging tests: what would be handed to the workers, and the on-call set-up
of seed 002 (a 24x7 primary and backup on 7-day rotations, a team lead, a manager)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pytest
import time_machine
from django.test import TestCase

from core import outbox
from core.models import Event, EventDelivery
from incidents.notify.models import Notification
from incidents.oncall.models import Layer, LayerParticipant, Schedule
from incidents.paging.models import CauseKind, Page, PolicyRoute
from incidents.paging.services import dispatch
from incidents.paging.services.policies import policy_create
from tests.core.factories import AgentFactory, UserFactory
from tests.tickets.factories import TicketFactory
from tickets.models import Severity

# A Wednesday: the rotations started on the Monday before, at 09:00 UTC.
T0 = datetime(2026, 3, 11, 14, 0, tzinfo=UTC)
ROTATION_START = datetime(2026, 3, 9, 9, 0, tzinfo=UTC)


@dataclass
class Dispatched:
    """The pages handed to the workers: (page id, eta) for each scheduled step, and the
    id lists the sweeper sent."""

    scheduled: list[tuple[int, datetime | None]] = field(default_factory=list)
    swept: list[list[int]] = field(default_factory=list)


@pytest.fixture(autouse=True)
def dispatched(request: pytest.FixtureRequest) -> Iterator[Dispatched]:
    """Nothing reaches a broker (except in tests marked `worker` or `faults`)."""
    record = Dispatched()
    if request.node.get_closest_marker("worker") or request.node.get_closest_marker("faults"):
        yield record
        return

    def escalate_at(*, page_id: int, eta: datetime | None = None) -> bool:
        record.scheduled.append((page_id, eta))
        return True

    def advance_soon(page_ids: list[int]) -> int:
        record.swept.append(list(page_ids))
        return 1

    from incidents.notify import sending

    with (
        mock.patch.object(dispatch, "escalate_at", side_effect=escalate_at),
        mock.patch.object(dispatch, "advance_soon", side_effect=advance_soon),
        mock.patch.object(sending, "_publish"),
    ):
        yield record


def weekly_schedule(name: str, people: list[Any], *, zone: str = "UTC") -> Schedule:
    """A 24x7 schedule with one weekly layer (handoff Monday 09:00), `people` in turn."""
    schedule = Schedule.objects.create(name=name, time_zone=zone)
    layer = Layer.objects.create(
        schedule=schedule, name="Weekly", kind="weekly", handoff_weekday=0,
        handoff_time=time(9), starts_at=ROTATION_START,
    )  # fmt: skip
    for position, person in enumerate(people):
        LayerParticipant.objects.create(layer=layer, user=person, position=position)
    return schedule


@pytest.fixture
def oncall(db) -> SimpleNamespace:
    """Seed 002: primary (alice this week, then bob), backup (carol, then dave), the team
    lead (lena), the manager (mark, the fallback); acknowledge within 5 minutes, or the
    backup is paged; after 10 the team lead; the whole chain once more, then the manager."""
    d = SimpleNamespace()
    d.alice = AgentFactory.create(email="alice@desk.example")
    d.bob = AgentFactory.create(email="bob@desk.example")
    d.carol = AgentFactory.create(email="carol@desk.example")
    d.dave = AgentFactory.create(email="dave@desk.example")
    d.lena = AgentFactory.create(email="lena@desk.example")
    d.mark = AgentFactory.create(email="mark@desk.example")
    d.primary = weekly_schedule("Primary", [d.alice, d.bob])
    d.backup = weekly_schedule("Backup", [d.carol, d.dave])
    d.policy = policy_create(
        name="Critical tickets",
        steps=[
            {"kind": "notify_on_call", "schedule": d.primary, "important": True},
            {"kind": "wait", "wait_minutes": 5},
            {"kind": "notify_on_call", "schedule": d.backup, "important": True},
            {"kind": "wait", "wait_minutes": 5},
            {"kind": "notify_users", "users": [d.lena]},
            {"kind": "wait", "wait_minutes": 10},
            {"kind": "repeat", "repeat_from": 1, "repeat_times": 1},
        ],
        fallback_users=[d.mark],
    )
    PolicyRoute.objects.create(cause=CauseKind.CRITICAL_TICKET, policy=d.policy)
    return d


@pytest.fixture
def at_t0() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def critical_ticket(**kwargs: Any):
    return TicketFactory.create(severity=Severity.CRITICAL, subject="Hub down", **kwargs)


def publish_critical(ticket) -> Event:
    """What routing does for a ticket routed as critical, and what the `paging` worker
    then runs for the delivery."""
    event = outbox.publish(
        "ticket.critical", community_id=ticket.community_id, ticket_id=ticket.pk, tier="emergency"
    )
    assert event is not None
    delivery = EventDelivery.objects.get(
        event=event, handler="incidents.paging.handlers.page_critical_ticket"
    )
    assert delivery.queue == "paging"
    with committed():
        assert outbox.delivery_run(delivery_id=delivery.pk) is True
    return event


def committed() -> Any:
    """Run what waits for the commit (tasks to schedule) when the block ends."""
    return TestCase.captureOnCommitCallbacks(execute=True)


def notified(page: Page | None = None) -> list[tuple[str, str]]:
    """(recipient's email, key) of each page notification, oldest first."""
    notifications = Notification.objects.filter(source="page")
    if page is not None:
        notifications = notifications.filter(source_id=page.pk)
    return [
        (n.recipient.email if n.recipient else "", n.key)
        for n in notifications.select_related("recipient").order_by("id")
    ]


def who(page: Page | None = None) -> list[str]:
    return [email.split("@")[0] for email, _ in notified(page)]


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def ordinary_user():
    return UserFactory.create()
