"""Business time: adding a working duration to an instant and measuring the working time
between two instants, on a weekly schedule in an IANA time zone, with holidays.

Pure: no Django, no database, no clock. Instants are timezone-aware datetimes; results are
in UTC. The schedule is read in the calendar's own wall-clock time, day by day, and each
working interval becomes a span of real (UTC) time, so daylight-saving changes in either
direction are counted as they happen: a 00:00-24:00 day lasts 23 or 25 hours on the days
the clocks change.

Decisions:
- An interval belongs to the weekday it starts on; `ends_next_day` marks one that crosses
  midnight (22:00 -> 06:00). 00:00 -> 00:00 with `ends_next_day` is a full day, and two
  full days in a row leave no gap at midnight: not a minute is lost.
- A holiday removes the working time that falls on its local date, whichever interval it
  belongs to (the part after midnight of an interval that crosses into a holiday too).
- A wall-clock time that does not exist (the hour skipped in spring) is read with the
  offset in force before the change, as Python does (fold=0), and spans are kept in order,
  so nothing is counted twice. A time that exists twice (autumn) means its first occurrence.
- Around the clock: every instant counts, holidays included (24/7 support).
- `add(t, 0)` is `t`. `add(t, d)` for d > 0 returns the earliest instant at which `d` of
  working time has passed since `t`: the end of a working span, not the start of the next.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

MINUTES_PER_DAY = 24 * 60
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# How far ahead the arithmetic looks for working time before it gives up (a calendar whose
# holidays cover every working day, for instance).
HORIZON_DAYS = 3660

ZERO = timedelta(0)


class ScheduleInvalid(ValueError):
    """A schedule that cannot be used; `code` is stable, `field` names what is wrong."""

    def __init__(self, message: str, *, code: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field


class NoWorkingTime(ScheduleInvalid):
    def __init__(self, message: str) -> None:
        super().__init__(message, code="no_working_time")


@dataclass(frozen=True)
class Interval:
    """Working time on one weekday (0 = Monday), from `start` to `end` local time."""

    weekday: int
    start: time
    end: time
    ends_next_day: bool = False

    @property
    def start_minute(self) -> int:
        return self.start.hour * 60 + self.start.minute

    @property
    def length_minutes(self) -> int:
        end = self.end.hour * 60 + self.end.minute
        return end - self.start_minute + (MINUTES_PER_DAY if self.ends_next_day else 0)

    def __str__(self) -> str:
        after = " (next day)" if self.ends_next_day else ""
        return f"{WEEKDAYS[self.weekday]} {self.start:%H:%M}-{self.end:%H:%M}{after}"


@dataclass(frozen=True)
class Holiday:
    day: date
    yearly: bool = False

    def falls_on(self, day: date) -> bool:
        if self.yearly:
            return (day.month, day.day) == (self.day.month, self.day.day)
        return day == self.day


def time_zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ScheduleInvalid(
            f"{name!r} is not an IANA time zone such as Europe/Berlin.",
            code="unknown_time_zone",
            field="time_zone",
        ) from exc


def validate_intervals(intervals: Sequence[Interval]) -> None:
    """Refuse an interval that ends before it starts (unless it crosses midnight), lasts
    more than a day, or overlaps another one (touching is fine)."""
    ranges: list[tuple[int, int, Interval]] = []
    for interval in intervals:
        if not 0 <= interval.weekday <= 6:
            raise ScheduleInvalid(
                f"{interval.weekday} is not a weekday (0 Monday … 6 Sunday).",
                code="invalid_weekday",
                field="weekday",
            )
        if interval.start.second or interval.end.second or interval.start.microsecond:
            raise ScheduleInvalid(
                "Working hours are given to the minute.", code="not_whole_minutes", field="start"
            )
        length = interval.length_minutes
        if not interval.ends_next_day and length <= 0:
            raise ScheduleInvalid(
                f"{interval} ends before it starts. Tick “ends next day” for hours that "
                "cross midnight.",
                code="end_before_start",
                field="end",
            )
        if interval.ends_next_day and length > MINUTES_PER_DAY:
            raise ScheduleInvalid(
                f"{interval} lasts more than a day.", code="longer_than_a_day", field="end"
            )
        start = interval.weekday * MINUTES_PER_DAY + interval.start_minute
        end = start + length
        if end > MINUTES_PER_WEEK:  # Sunday night into Monday morning
            ranges += [(start, MINUTES_PER_WEEK, interval), (0, end - MINUTES_PER_WEEK, interval)]
        else:
            ranges.append((start, end, interval))
    ranges.sort(key=lambda r: (r[0], r[1]))
    for (_, end, first), (start, _, second) in zip(ranges, ranges[1:], strict=False):
        if start < end:
            raise ScheduleInvalid(
                f"{first} and {second} overlap.", code="overlap", field="intervals"
            )


def working_minutes_per_week(intervals: Iterable[Interval]) -> int:
    return sum(interval.length_minutes for interval in intervals)


@dataclass(frozen=True)
class Schedule:
    """When work happens: weekly intervals and holidays in a time zone, or around the clock."""

    time_zone: str = "UTC"
    intervals: tuple[Interval, ...] = ()
    holidays: tuple[Holiday, ...] = ()
    around_the_clock: bool = False
    _zone: zoneinfo.ZoneInfo = field(init=False, repr=False, compare=False)
    _by_weekday: tuple[tuple[Interval, ...], ...] = field(init=False, repr=False, compare=False)
    _fixed: frozenset[date] = field(init=False, repr=False, compare=False)
    _yearly: frozenset[tuple[int, int]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_zone", time_zone(self.time_zone))
        if self.around_the_clock:
            by_weekday: tuple[tuple[Interval, ...], ...] = ((),) * 7
        else:
            validate_intervals(self.intervals)
            if working_minutes_per_week(self.intervals) == 0:
                raise NoWorkingTime("A calendar needs working hours, or to run around the clock.")
            by_weekday = tuple(
                tuple(sorted((i for i in self.intervals if i.weekday == day),
                             key=lambda i: i.start_minute))
                for day in range(7)
            )  # fmt: skip
        object.__setattr__(self, "_by_weekday", by_weekday)
        object.__setattr__(self, "_fixed", frozenset(h.day for h in self.holidays if not h.yearly))
        object.__setattr__(
            self, "_yearly", frozenset((h.day.month, h.day.day) for h in self.holidays if h.yearly)
        )

    # ------------------------------------------------------------ spans of working time

    def _is_holiday(self, day: date) -> bool:
        return day in self._fixed or (day.month, day.day) in self._yearly

    def _utc(self, day: date, minute: int) -> datetime:
        """The instant of wall-clock `minute` after local midnight of `day` (may pass 24:00)."""
        day += timedelta(days=minute // MINUTES_PER_DAY)
        minute %= MINUTES_PER_DAY
        local = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=self._zone)
        return local.astimezone(UTC)

    def _day_spans(self, day: date) -> Iterator[tuple[datetime, datetime]]:
        """Working spans of the intervals that start on local date `day`, in order, without
        the parts that fall on a holiday."""
        for interval in self._by_weekday[day.weekday()]:
            start = interval.start_minute
            end = start + interval.length_minutes
            parts = [(start, min(end, MINUTES_PER_DAY), day)]
            if end > MINUTES_PER_DAY:
                parts.append((MINUTES_PER_DAY, end, day + timedelta(days=1)))
            for part_start, part_end, on in parts:
                if not self._is_holiday(on):
                    yield self._utc(day, part_start), self._utc(day, part_end)

    def spans(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Spans of working time (UTC, half-open) from `start` on, in order and disjoint, the
        first clipped to begin at `start`; spans that touch are not merged. Never ends for a
        schedule with working time; raises NoWorkingTime after HORIZON_DAYS without any."""
        start = _aware(start).astimezone(UTC)
        if self.around_the_clock:
            yield start, datetime.max.replace(tzinfo=UTC)
            return
        day = start.astimezone(self._zone).date() - timedelta(days=1)
        floor = start
        idle_days = 0
        while idle_days <= HORIZON_DAYS:
            idle_days += 1
            for span_start, span_end in self._day_spans(day):
                # Keep spans in order and disjoint where a skipped hour shifts a boundary.
                span_start = max(span_start, floor)
                if span_end > span_start:
                    idle_days = 0
                    floor = span_end
                    yield span_start, span_end
            day += timedelta(days=1)
        raise NoWorkingTime(f"No working time within {HORIZON_DAYS} days after {start:%Y-%m-%d}.")

    # ------------------------------------------------------------ arithmetic

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The instant at which `duration` of working time has passed since `start`."""
        start = _aware(start).astimezone(UTC)
        if duration < ZERO:
            raise ValueError("Business durations are not negative.")
        if duration == ZERO:
            return start
        if self.around_the_clock:
            return start + duration
        left = duration
        for span_start, span_end in self.spans(start):
            length = span_end - span_start
            if left <= length:
                return span_start + left
            left -= length
        raise AssertionError("spans() never ends")  # pragma: no cover

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Working time from `start` to `end`; negative when `end` comes first."""
        start = _aware(start).astimezone(UTC)
        end = _aware(end).astimezone(UTC)
        if end < start:
            return -self.between(end, start)
        if self.around_the_clock:
            return end - start
        total = ZERO
        for span_start, span_end in self.spans(start):
            if span_start >= end:
                break
            total += min(span_end, end) - span_start
            if span_end >= end:
                break
        return total

    def is_open(self, at: datetime) -> bool:
        return self.next_open(at) == _aware(at).astimezone(UTC)

    def next_open(self, at: datetime) -> datetime:
        """`at` if it is working time, otherwise the start of the next working span."""
        span_start, _ = next(self.spans(at))
        return span_start


ALWAYS = Schedule(around_the_clock=True)


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("Business time needs timezone-aware datetimes.")
    return value
