"""The arithmetic of one clock: due and warning times from a start, a target and pauses.

Pure, like slas.business_time: the services and the preview both use it, so a preview
shows exactly what arming a clock would store.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from slas.business_time import ALWAYS, ZERO, Schedule


@dataclass(frozen=True)
class TargetRule:
    """A target as a policy states it, copied onto each clock it arms."""

    minutes: int
    business: bool = True
    warn_percent: int | None = None
    warn_minutes_before: int | None = None
    notify_around_the_clock: bool = False

    @property
    def duration(self) -> timedelta:
        return timedelta(minutes=self.minutes)


def measure_of(*, business: bool, schedule: Schedule | None) -> Schedule:
    """What a target counts in: the calendar's working time, or every hour (wall clock)."""
    return schedule if business and schedule is not None else ALWAYS


def pauses_total(measure: Schedule, pauses: Iterable[tuple[datetime, datetime]]) -> timedelta:
    return sum((measure.between(start, end) for start, end in pauses), ZERO)


def due(*, measure: Schedule, started: datetime, rule: TargetRule, paused: timedelta) -> datetime:
    """When the target is used up: `minutes` of counted time after the start, plus the
    counted time the clock stood still."""
    return measure.add(started, rule.duration + paused)


def warning(
    *,
    measure: Schedule,
    notices: Schedule | None,
    started: datetime,
    rule: TargetRule,
    paused: timedelta,
    due_at: datetime,
) -> datetime | None:
    """When to warn, or None. The threshold is a share of the target, or minutes before
    the due time, in the target's measure. Unless the policy notifies around the clock, the
    notice waits for the calendar's working hours (`notices`); a warning that would come at
    or after the due time is not sent: the breach says it."""
    if rule.warn_percent is not None:
        used = rule.duration * rule.warn_percent / 100
    elif rule.warn_minutes_before is not None:
        used = max(rule.duration - timedelta(minutes=rule.warn_minutes_before), ZERO)
    else:
        return None
    at = measure.add(started, used + paused)
    if not rule.notify_around_the_clock and notices is not None:
        at = notices.next_open(at)
    return at if at < due_at else None


def used(*, measure: Schedule, started: datetime, until: datetime, paused: timedelta) -> timedelta:
    """Counted time from the start to `until`, less the counted time paused."""
    return measure.between(started, until) - paused


def parse_pauses(raw: Sequence[Sequence[str]]) -> list[tuple[datetime, datetime]]:
    return [(datetime.fromisoformat(start), datetime.fromisoformat(end)) for start, end in raw]
