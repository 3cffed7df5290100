"""Who is on call, computed from plain values: no database, no Django.

A schedule is layers of rotations (a later layer wins where it has someone) with overrides
on top. Handoffs and restriction windows are wall-clock times in the schedule's zone, turned
into instants by `local_to_utc`, which resolves the two daylight-saving cases so that
handoffs stay in order:

- a wall-clock time that does not exist (02:30 on a spring-forward night in Berlin) is the
  moment the clocks jump (03:00 CEST): the handoff happens at the first valid instant after;
- a wall-clock time that happens twice (02:30 on a fall-back night) is its first occurrence.

Durations (daily, weekly, custom) are counted on the wall clock too: a weekly Monday 09:00
handoff stays at 09:00 local across the change, and the shift across it is an hour shorter
or longer in real time.
"""

from __future__ import annotations

import bisect
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, Literal
from zoneinfo import ZoneInfo

ShiftKind = Literal["daily", "weekly", "custom"]
DAILY: ShiftKind = "daily"
WEEKLY: ShiftKind = "weekly"
CUSTOM: ShiftKind = "custom"

MIN_CUSTOM_MINUTES = 15
MAX_CUSTOM_MINUTES = 28 * 24 * 60

Source = Literal["layer", "override"]


class RotationInvalid(ValueError):
    """A rotation or window that cannot be computed; `field` names the culprit."""

    def __init__(self, message: str, *, field: str, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code


@dataclass(frozen=True)
class Window:
    """On `weekday` (0 = Monday) from `start` to `end`, wall-clock; `ends_next_day` when the
    window crosses midnight (22:00 → 06:00; 00:00 → 00:00 is the whole day)."""

    weekday: int
    start: time
    end: time
    ends_next_day: bool = False

    def check(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise RotationInvalid("A weekday is 0 (Monday) to 6.", field="weekday", code="weekday")
        if self.ends_next_day:
            if self.end > self.start:
                raise RotationInvalid(
                    "A window that ends the next day ends no later than it started.",
                    field="end",
                    code="longer_than_a_day",
                )
        elif self.end == self.start:
            raise RotationInvalid(
                "The window has no length: its end is its start.", field="end", code="zero_length"
            )
        elif self.end < self.start:
            raise RotationInvalid(
                "The window ends before it starts; tick “ends next day” if it crosses midnight.",
                field="end",
                code="end_before_start",
            )


@dataclass(frozen=True)
class Rotation:
    """One layer: participants take turns, one shift each, from `starts_at` on.

    daily: a handoff every day at `handoff_time`; weekly: every week on `handoff_weekday`
    at `handoff_time`; custom: every `shift_minutes` of wall-clock time from `starts_at`.
    The first shift runs from `starts_at` to the first handoff after it.
    """

    name: str
    participants: tuple[Hashable, ...]
    starts_at: datetime
    kind: ShiftKind = WEEKLY
    handoff_weekday: int = 0
    handoff_time: time = time(9)
    shift_minutes: int | None = None
    windows: tuple[Window, ...] = ()

    def check(self) -> None:
        if not self.participants:
            raise RotationInvalid(
                "A rotation needs at least one participant.", field="participants", code="empty"
            )
        if self.starts_at.tzinfo is None:
            raise RotationInvalid(
                "The start is an instant (with a time zone).", field="starts_at", code="naive"
            )
        if self.kind not in (DAILY, WEEKLY, CUSTOM):
            raise RotationInvalid("Unknown shift length.", field="kind", code="kind")
        if self.kind == WEEKLY and not 0 <= self.handoff_weekday <= 6:
            raise RotationInvalid(
                "A weekday is 0 (Monday) to 6.", field="handoff_weekday", code="weekday"
            )
        if self.kind == CUSTOM:
            minutes = self.shift_minutes or 0
            if minutes <= 0:
                raise RotationInvalid(
                    "A shift must last longer than zero.", field="shift_minutes", code="zero_length"
                )
            if not MIN_CUSTOM_MINUTES <= minutes <= MAX_CUSTOM_MINUTES:
                raise RotationInvalid(
                    f"A custom shift lasts from {MIN_CUSTOM_MINUTES} minutes to "
                    f"{MAX_CUSTOM_MINUTES // 1440} days.",
                    field="shift_minutes",
                    code="out_of_range",
                )
        for window in self.windows:
            window.check()

    @property
    def step(self) -> timedelta:
        if self.kind == DAILY:
            return timedelta(days=1)
        if self.kind == WEEKLY:
            return timedelta(days=7)
        return timedelta(minutes=self.shift_minutes or 0)


@dataclass(frozen=True)
class Cover:
    """An override: `who` is on call from `start` to `end`, over every layer. Where two
    overlap, the later one in the plan's list wins."""

    who: Hashable
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Plan:
    """A schedule: `layers` lowest first (the last wins where it has someone)."""

    time_zone: str
    layers: tuple[Rotation, ...] = ()
    overrides: tuple[Cover, ...] = ()


@dataclass(frozen=True)
class Shift:
    """Someone on call from `start` to `end` (UTC instants): from a layer's rotation, or
    an override."""

    user: Any
    start: datetime
    end: datetime
    source: Source = "layer"
    layer_name: str = ""

    @property
    def duration(self) -> timedelta:
        return self.end - self.start


@lru_cache(maxsize=64)
def zone_of(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_to_utc(wall: datetime, zone: ZoneInfo) -> datetime:
    """The instant a naive wall-clock time in `zone` stands for, by the rules above."""
    candidate = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if candidate.astimezone(zone).replace(tzinfo=None) == wall:
        return candidate  # it exists (the first occurrence, when it happens twice)
    # In a gap: `fold=0` read it with the offset before the jump, which lands after the
    # jump; `fold=1` with the one after, which lands before it. The jump is in between.
    low = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    high = candidate
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).replace(tzinfo=None) >= wall:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0) if high.microsecond else high


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("Instants must be aware.")
    return value.astimezone(UTC)


# ---------------------------------------------------------------- one rotation


def _anchor(rotation: Rotation, zone: ZoneInfo) -> datetime:
    """The wall-clock time of the handoff that opens shift 0 (at or before the start)."""
    start = _utc(rotation.starts_at).astimezone(zone).replace(tzinfo=None)
    if rotation.kind == CUSTOM:
        return start
    anchor = datetime.combine(start.date(), rotation.handoff_time)
    if rotation.kind == WEEKLY:
        anchor -= timedelta(days=(anchor.weekday() - rotation.handoff_weekday) % 7)
    if anchor > start:
        anchor -= rotation.step
    return anchor


def _handoffs(rotation: Rotation, zone: ZoneInfo) -> tuple[datetime, timedelta, datetime]:
    return _anchor(rotation, zone), rotation.step, _utc(rotation.starts_at)


def _boundary(
    anchor: datetime, step: timedelta, k: int, zone: ZoneInfo, floor: datetime
) -> datetime:
    return max(local_to_utc(anchor + k * step, zone), floor)


def rotation_turns(
    rotation: Rotation, zone: ZoneInfo, start: datetime, end: datetime
) -> list[Shift]:
    """The rotation's shifts over [start, end), clipped to it, before restrictions."""
    start, end = _utc(start), _utc(end)
    if not rotation.participants:
        return []
    anchor, step, floor = _handoffs(rotation, zone)
    low = max(start, floor)
    if low >= end:
        return []
    first = local_to_utc(anchor, zone)
    # Wall-clock and real elapsed time differ by at most a few hours: estimate, then adjust.
    k = max(0, int((low - first) / step) - 1)
    while k > 0 and _boundary(anchor, step, k, zone, floor) > low:
        k -= 1
    while _boundary(anchor, step, k + 1, zone, floor) <= low:
        k += 1
    shifts: list[Shift] = []
    count = len(rotation.participants)
    begin = _boundary(anchor, step, k, zone, floor)
    while begin < end:
        finish = _boundary(anchor, step, k + 1, zone, floor)
        piece_start, piece_end = max(begin, low), min(finish, end)
        who = rotation.participants[k % count]
        if piece_end > piece_start:
            last = shifts[-1] if shifts else None
            if last is not None and last.user == who and last.end == piece_start:
                # the turns between them vanished in a daylight-saving gap: one shift
                shifts[-1] = Shift(who, last.start, piece_end, "layer", rotation.name)
            else:
                shifts.append(Shift(who, piece_start, piece_end, "layer", rotation.name))
        begin = finish
        k += 1
    return shifts


def window_spans(
    windows: Sequence[Window], zone: ZoneInfo, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """The instants the windows cover within [start, end), merged and in order."""
    start, end = _utc(start), _utc(end)
    by_day: dict[int, list[Window]] = {}
    for window in windows:
        by_day.setdefault(window.weekday, []).append(window)
    first_day = start.astimezone(zone).date() - timedelta(days=1)
    last_day = end.astimezone(zone).date()
    spans: list[tuple[datetime, datetime]] = []
    day: date = first_day
    while day <= last_day:
        for window in by_day.get(day.weekday(), ()):
            end_day = day + timedelta(days=1) if window.ends_next_day else day
            s = local_to_utc(datetime.combine(day, window.start), zone)
            e = local_to_utc(datetime.combine(end_day, window.end), zone)
            s, e = max(s, start), min(e, end)
            if e > s:
                spans.append((s, e))
        day += timedelta(days=1)
    spans.sort()
    merged: list[tuple[datetime, datetime]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def layer_shifts(rotation: Rotation, time_zone: str, start: datetime, end: datetime) -> list[Shift]:
    """The layer's shifts over [start, end): its rotation, cut to its windows when it has any."""
    zone = zone_of(time_zone)
    turns = rotation_turns(rotation, zone, start, end)
    if not rotation.windows or not turns:
        return turns
    spans = window_spans(rotation.windows, zone, start, end)
    cut: list[Shift] = []
    for turn in turns:
        for s, e in spans:
            if e <= turn.start:
                continue
            if s >= turn.end:
                break
            cut.append(
                Shift(turn.user, max(s, turn.start), min(e, turn.end), "layer", turn.layer_name)
            )
    return cut


# ---------------------------------------------------------------- the whole schedule


@dataclass
class _Track:
    shifts: list[Shift]
    starts: list[datetime] = field(init=False)

    def __post_init__(self) -> None:
        self.starts = [s.start for s in self.shifts]

    def at(self, instant: datetime) -> Shift | None:
        index = bisect.bisect_right(self.starts, instant) - 1
        if index >= 0 and self.shifts[index].end > instant:
            return self.shifts[index]
        return None


def _override_shifts(overrides: Iterable[Cover], start: datetime, end: datetime) -> list[Shift]:
    return [
        Shift(o.who, max(_utc(o.start), start), min(_utc(o.end), end), "override", "")
        for o in overrides
        if _utc(o.end) > start and _utc(o.start) < end and o.end > o.start
    ]


def final_shifts(plan: Plan, start: datetime, end: datetime) -> list[Shift]:
    """Who is on call over [start, end), in order, without overlaps; gaps where nobody is.
    Consecutive pieces with the same person from the same source are one shift."""
    start, end = _utc(start), _utc(end)
    if end <= start:
        return []
    tracks = [_Track(layer_shifts(layer, plan.time_zone, start, end)) for layer in plan.layers]
    covers = _override_shifts(plan.overrides, start, end)
    points = {start, end}
    for track in tracks:
        for shift in track.shifts:
            points.update((shift.start, shift.end))
    for cover in covers:
        points.update((cover.start, cover.end))
    ordered = sorted(p for p in points if start <= p <= end)
    result: list[Shift] = []
    for low, high in zip(ordered, ordered[1:], strict=False):
        winner = _winner(tracks, covers, low)
        if winner is None:
            continue
        last = result[-1] if result else None
        if (
            last is not None
            and last.end == low
            and last.user == winner.user
            and last.source == winner.source
            and last.layer_name == winner.layer_name
        ):
            result[-1] = Shift(last.user, last.start, high, last.source, last.layer_name)
        else:
            result.append(Shift(winner.user, low, high, winner.source, winner.layer_name))
    return result


def _winner(tracks: Sequence[_Track], covers: Sequence[Shift], instant: datetime) -> Shift | None:
    for cover in reversed(covers):
        if cover.start <= instant < cover.end:
            return cover
    for track in reversed(tracks):
        shift = track.at(instant)
        if shift is not None:
            return shift
    return None


def on_call_at(plan: Plan, at: datetime) -> Shift | None:
    """The piece of shift covering `at` (overrides first, then the highest layer with
    someone), or None. Its bounds are only those of a tiny range around `at`: use
    `final_shifts` for when it starts and ends."""
    at = _utc(at)
    tick = timedelta(microseconds=1)
    shifts = final_shifts(plan, at, at + tick)
    return shifts[0] if shifts else None


def current_or_next(plan: Plan, at: datetime, horizon: timedelta) -> Shift | None:
    """The shift someone is on at `at` (from `at`), or else the next to begin within
    `horizon`; None when nobody comes on call in that time."""
    at = _utc(at)
    step = timedelta(days=7)
    low = at
    while low < at + horizon:
        high = min(low + step, at + horizon)
        shifts = final_shifts(plan, low, high)
        if shifts:
            return shifts[0]
        low = high
    return None
