from __future__ import annotations

from datetime import datetime, time
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from incidents.oncall.services import WindowSpec, override_create
from tests.core.factories import AgentFactory
from tests.oncall.factories import ScheduleFactory, make_layer

BERLIN = ZoneInfo("Europe/Berlin")


def berlin(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN)


WEEKDAYS_9_TO_5 = [WindowSpec(d, time(9), time(17)) for d in range(5)]


@pytest.fixture
def team(db):
    """Three agents on a Berlin schedule: a weekly 24x7 layer (Ann, Ben; Mondays 09:00 from
    Monday 5 January 2026), a business-hours layer on top (Cat), and an override (Dan,
    Wednesday 14 January 20:00 to Thursday 08:00)."""
    t = SimpleNamespace()
    t.ann = AgentFactory.create(first_name="Ann", last_name="A")
    t.ben = AgentFactory.create(first_name="Ben", last_name="B")
    t.cat = AgentFactory.create(first_name="Cat", last_name="C")
    t.dan = AgentFactory.create(first_name="Dan", last_name="D")
    t.schedule = ScheduleFactory.create(name="Primary")
    t.base = make_layer(t.schedule, [t.ann, t.ben], starts_at=berlin("2026-01-05 09:00"))
    t.day = make_layer(
        t.schedule,
        [t.cat],
        name="Business hours",
        position=1,
        starts_at=berlin("2026-01-05 09:00"),
        restrictions=[WindowSpec(d, time(10), time(17)) for d in range(5)],
    )
    t.override = override_create(
        schedule=t.schedule,
        user=t.dan,
        start=berlin("2026-01-14 20:00"),
        end=berlin("2026-01-15 08:00"),
        reason="Ann's evening off",
    )
    return t
