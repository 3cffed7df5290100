from __future__ import annotations

from datetime import datetime, time
from typing import Any

import factory

from incidents.oncall.models import Layer, Schedule
from incidents.oncall.services import WindowSpec, layer_save


class ScheduleFactory(factory.django.DjangoModelFactory[Schedule]):
    class Meta:
        model = Schedule

    name = factory.Sequence(lambda n: f"Schedule {n}")
    time_zone = "Europe/Berlin"


def make_layer(
    schedule: Schedule,
    people: list[Any],
    *,
    starts_at: datetime,
    name: str = "Base",
    position: int = 0,
    kind: str = "weekly",
    handoff_weekday: int = 0,
    handoff_time: time = time(9),
    shift_minutes: int | None = None,
    restrictions: list[WindowSpec] | None = None,
) -> Layer:
    return layer_save(
        schedule=schedule,
        name=name,
        position=position,
        kind=kind,
        starts_at=starts_at,
        participants=people,
        handoff_weekday=handoff_weekday,
        handoff_time=handoff_time,
        shift_minutes=shift_minutes,
        restrictions=restrictions or [],
    )
