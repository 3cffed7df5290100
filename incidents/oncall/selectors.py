"""Reads of on-call schedules: who is on call at an instant, the shifts over a range, the
schedules a person takes part in, and what the desk shows (the board, the calendar, the
handoffs due).

A schedule's layers, participants, restrictions and overrides load in four queries, for one
schedule or many (`plans_for`); the arithmetic is incidents.oncall.rotation's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from incidents.oncall.models import (
    HandoffNote,
    Layer,
    LayerParticipant,
    LayerRestriction,
    Override,
    Schedule,
)
from incidents.oncall.rotation import (
    Cover,
    Plan,
    Rotation,
    Shift,
    Window,
    current_or_next,
    final_shifts,
    layer_shifts,
)

if TYPE_CHECKING:
    from core.models import User

# How far ahead next_on_call looks for someone.
NEXT_ON_CALL_HORIZON = timedelta(days=90)
# A handoff note is asked for from this long before the outgoing shift ends to this long after.
HANDOFF_PROMPT_WINDOW = timedelta(hours=12)


# ---------------------------------------------------------------- loading


def rotation_of(layer: Layer) -> Rotation:
    """The pure rotation of a layer whose participants and restrictions are prefetched."""
    return Rotation(
        name=layer.name,
        participants=tuple(p.user for p in layer.participants.all()),
        starts_at=layer.starts_at,
        kind=layer.kind,  # type: ignore[arg-type]
        handoff_weekday=layer.handoff_weekday,
        handoff_time=layer.handoff_time,
        shift_minutes=layer.shift_minutes,
        windows=tuple(
            Window(r.weekday, r.start, r.end, r.ends_next_day) for r in layer.restrictions.all()
        ),
    )


def layers_with_rotations(schedule_ids: Iterable[int]) -> QuerySet[Layer]:
    """Layers with their participants (and users) and restrictions: three queries."""
    return (
        Layer.objects.filter(schedule_id__in=list(schedule_ids))
        .order_by("schedule_id", "position", "pk")
        .prefetch_related(
            Prefetch(
                "participants",
                queryset=LayerParticipant.objects.select_related("user").order_by("position"),
            ),
            Prefetch(
                "restrictions", queryset=LayerRestriction.objects.order_by("weekday", "start")
            ),
        )
    )


def overrides_between(
    schedule_ids: Iterable[int], start: datetime, end: datetime
) -> QuerySet[Override]:
    """Overrides that touch [start, end), oldest first (so a later one wins): one query."""
    return (
        Override.objects.filter(schedule_id__in=list(schedule_ids), end__gt=start, start__lt=end)
        .select_related("user", "created_by")
        .order_by("created_at", "pk")
    )


@dataclass(frozen=True)
class LoadedSchedule:
    schedule: Schedule
    layers: tuple[Layer, ...]
    overrides: tuple[Override, ...]
    plan: Plan


def plans_for(
    schedules: Sequence[Schedule], start: datetime, end: datetime
) -> dict[int, LoadedSchedule]:
    """Each schedule's layers and the overrides touching [start, end), in four queries
    whatever the number of schedules."""
    ids = [s.pk for s in schedules]
    layers: dict[int, list[Layer]] = {pk: [] for pk in ids}
    overrides: dict[int, list[Override]] = {pk: [] for pk in ids}
    if ids:
        for layer in layers_with_rotations(ids):
            layers[layer.schedule_id].append(layer)
        for override in overrides_between(ids, start, end):
            overrides[override.schedule_id].append(override)
    loaded = {}
    for schedule in schedules:
        plan = Plan(
            time_zone=schedule.time_zone,
            layers=tuple(rotation_of(layer) for layer in layers[schedule.pk]),
            overrides=tuple(Cover(o.user, o.start, o.end) for o in overrides[schedule.pk]),
        )
        loaded[schedule.pk] = LoadedSchedule(
            schedule, tuple(layers[schedule.pk]), tuple(overrides[schedule.pk]), plan
        )
    return loaded


def plan_for(schedule: Schedule, start: datetime, end: datetime) -> Plan:
    return plans_for([schedule], start, end)[schedule.pk].plan


# ---------------------------------------------------------------- the interface


def on_call(schedule: Schedule, at: datetime) -> User | None:
    """Who is on call at `at`: the latest override covering it, else the highest layer
    that has someone then; None when nobody is."""
    tick = timedelta(microseconds=1)
    found = final_shifts(plan_for(schedule, at, at + tick), at, at + tick)
    return found[0].user if found else None


def next_on_call(schedule: Schedule, at: datetime) -> tuple[User, datetime] | None:
    """(the person on call at `at`, `at`), or else (the next person to come on call, when
    their shift starts), looking up to NEXT_ON_CALL_HORIZON ahead; None if nobody comes."""
    plan = plan_for(schedule, at, at + NEXT_ON_CALL_HORIZON)
    shift = current_or_next(plan, at, NEXT_ON_CALL_HORIZON)
    if shift is None:
        return None
    return shift.user, shift.start


def shifts(schedule: Schedule, start: datetime, end: datetime) -> list[Shift]:
    """Who is on call over [start, end), in order, clipped to the range, gaps left out."""
    return final_shifts(plan_for(schedule, start, end), start, end)


def schedules_for(user: User) -> QuerySet[Schedule]:
    """The schedules a person takes part in: in a layer's rotation, or with an override
    that has not ended."""
    return schedules_of(user, since=timezone.now())


def schedules_of(user: User, *, since: datetime) -> QuerySet[Schedule]:
    """The schedules `user` is in a rotation of, or has an override on ending after `since`."""
    return Schedule.objects.filter(
        Q(layers__participants__user=user) | Q(overrides__user=user, overrides__end__gt=since)
    ).distinct()


# ---------------------------------------------------------------- the desk's reads


@dataclass(frozen=True)
class OnCallNow:
    schedule: Schedule
    shift: Shift | None  # who is on call now, until when (None: nobody)
    next_shift: Shift | None  # the next one after it
    backups: tuple[OnCallNow, ...] = ()


BOARD_HORIZON = timedelta(days=35)


def _now_and_next(plan: Plan, now: datetime) -> tuple[Shift | None, Shift | None]:
    upcoming = final_shifts(plan, now, now + BOARD_HORIZON)
    current = upcoming[0] if upcoming and upcoming[0].start == now else None
    later = [s for s in upcoming if s.start > now]
    return current, later[0] if later else None


def on_call_board(now: datetime) -> list[OnCallNow]:
    """For each schedule that backs up no other: who is on call now and until when, who
    comes next, and the same for its backup schedules. Five queries."""
    schedules = list(Schedule.objects.order_by("name"))
    loaded = plans_for(schedules, now, now + BOARD_HORIZON)
    rows: dict[int, OnCallNow] = {}
    for schedule in schedules:
        current, following = _now_and_next(loaded[schedule.pk].plan, now)
        rows[schedule.pk] = OnCallNow(schedule, current, following)
    board = []
    for schedule in schedules:
        if schedule.backup_of_id is not None and schedule.backup_of_id in rows:
            continue
        backups = tuple(rows[s.pk] for s in schedules if s.backup_of_id == schedule.pk)
        row = rows[schedule.pk]
        board.append(OnCallNow(row.schedule, row.shift, row.next_shift, backups))
    return board


def upcoming_shifts_of(user: User, start: datetime, end: datetime) -> list[tuple[Schedule, Shift]]:
    """A person's own shifts (in the final schedules) over [start, end), by start."""
    schedules = list(schedules_of(user, since=start).order_by("name"))
    loaded = plans_for(schedules, start, end)
    mine = [
        (schedule, shift)
        for schedule in schedules
        for shift in final_shifts(loaded[schedule.pk].plan, start, end)
        if shift.user == user
    ]
    return sorted(mine, key=lambda pair: (pair[1].start, pair[0].name))


@dataclass(frozen=True)
class LayerRow:
    name: str
    shifts: list[Shift]


@dataclass(frozen=True)
class Calendar:
    schedule: Schedule
    start: datetime
    end: datetime
    layers: list[LayerRow]
    overrides: list[Shift]
    final: list[Shift]


def schedule_calendar(schedule: Schedule, start: datetime, end: datetime) -> Calendar:
    """Each layer's shifts (highest first), the overrides and the final result over
    [start, end). Four queries."""
    loaded = plans_for([schedule], start, end)[schedule.pk]
    rows = [
        LayerRow(layer.name, layer_shifts(rotation, schedule.time_zone, start, end))
        for layer, rotation in zip(loaded.layers, loaded.plan.layers, strict=True)
    ]
    overrides = [
        Shift(o.user, max(o.start, start), min(o.end, end), "override", "")
        for o in loaded.overrides
    ]
    return Calendar(
        schedule=schedule,
        start=start,
        end=end,
        layers=list(reversed(rows)),
        overrides=sorted(overrides, key=lambda s: s.start),
        final=final_shifts(loaded.plan, start, end),
    )


@dataclass(frozen=True)
class HandoffDue:
    """A handoff the outgoing person has not written a note for yet."""

    schedule: Schedule
    handoff_at: datetime
    outgoing: User
    incoming: User | None


def handoffs_of(plan: Plan, schedule: Schedule, start: datetime, end: datetime) -> list[HandoffDue]:
    """Every change of person within (start, end): the shift before it ends there."""
    found = final_shifts(plan, start, end)
    result = []
    for index, shift in enumerate(found):
        if not start < shift.end < end:
            continue
        following = found[index + 1] if index + 1 < len(found) else None
        incoming = following.user if following and following.start == shift.end else None
        if incoming == shift.user:
            continue
        result.append(HandoffDue(schedule, shift.end, shift.user, incoming))
    return result


def handoff_find(schedule: Schedule, at: datetime) -> HandoffDue | None:
    """The handoff on `schedule` at exactly `at` (someone's shift ends there and someone
    else's, or nobody's, begins), or None."""
    window = timedelta(days=1)
    plan = plan_for(schedule, at - window, at + window)
    return next(
        (h for h in handoffs_of(plan, schedule, at - window, at + window) if h.handoff_at == at),
        None,
    )


def handoffs_due(user: User, now: datetime) -> list[HandoffDue]:
    """The handoffs where `user` hands over, from HANDOFF_PROMPT_WINDOW ago to
    HANDOFF_PROMPT_WINDOW ahead, that have no note yet."""
    schedules = list(schedules_for(user).order_by("name"))
    margin = timedelta(days=2)
    start, end = now - HANDOFF_PROMPT_WINDOW, now + HANDOFF_PROMPT_WINDOW
    loaded = plans_for(schedules, start - margin, end + margin)
    candidates = [
        due
        for schedule in schedules
        for due in handoffs_of(loaded[schedule.pk].plan, schedule, start - margin, end + margin)
        if due.outgoing == user and start <= due.handoff_at <= end
    ]
    if not candidates:
        return []
    written = set(
        HandoffNote.objects.filter(
            schedule__in=[d.schedule for d in candidates],
            handoff_at__in=[d.handoff_at for d in candidates],
        ).values_list("schedule_id", "handoff_at")
    )
    return [d for d in candidates if (d.schedule.pk, d.handoff_at) not in written]


def handoff_notes_for_incoming(user: User, now: datetime) -> list[HandoffNote]:
    """The latest note handed to `user` on each schedule (for a handoff in the past week or
    no more than HANDOFF_PROMPT_WINDOW ahead), newest first."""
    notes = (
        HandoffNote.objects.filter(
            incoming=user,
            handoff_at__lte=now + HANDOFF_PROMPT_WINDOW,
            handoff_at__gte=now - timedelta(days=7),
        )
        .select_related("schedule", "outgoing", "incoming")
        .order_by("schedule_id", "-handoff_at")
        .distinct("schedule_id")
    )
    return sorted(notes, key=lambda n: n.handoff_at, reverse=True)


def handoff_notes_recent(limit: int = 20) -> QuerySet[HandoffNote]:
    return HandoffNote.objects.select_related("schedule", "outgoing", "incoming").order_by(
        "-handoff_at"
    )[:limit]
