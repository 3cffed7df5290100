"""Business-time arithmetic: an exhaustive table of cases, and properties that must hold
for any schedule, start and duration (hypothesis)."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from slas.business_time import (
    ALWAYS,
    Holiday,
    Interval,
    NoWorkingTime,
    Schedule,
    ScheduleInvalid,
)

H = timedelta(hours=1)
M = timedelta(minutes=1)
WEEKDAYS = range(5)


def at(zone: str, text: str) -> datetime:
    """'2024-03-29 16:00' in `zone`, as an aware datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))


def nine_to_five(zone: str, *holidays: Holiday) -> Schedule:
    return Schedule(zone, tuple(Interval(d, time(9), time(17)) for d in WEEKDAYS), holidays)


def full_days(zone: str, days=range(7), *holidays: Holiday) -> Schedule:
    return Schedule(zone, tuple(Interval(d, time(0), time(0), True) for d in days), holidays)


def night_shift(zone: str, *holidays: Holiday) -> Schedule:
    return Schedule(zone, tuple(Interval(d, time(22), time(6), True) for d in WEEKDAYS), holidays)


SPLIT_NO_WEDNESDAY = Schedule(
    "Europe/Berlin",
    tuple(
        Interval(d, start, end)
        for d in (0, 1, 3, 4)
        for start, end in ((time(9), time(12)), (time(13), time(17)))
    ),
)
CHRISTMAS = (Holiday(date(2020, 12, 25), yearly=True), Holiday(date(2020, 12, 26), yearly=True))
BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"
SYDNEY = "Australia/Sydney"
# Seed 004: a working day is a continuous 24-hour period, Monday to Friday.
WORKING_DAY = full_days("UTC", WEEKDAYS)

# (case, schedule, zone of the instants, start, duration, expected due)
ADD_CASES = [
    ("ends at closing time, not next morning", nine_to_five(BERLIN), BERLIN,
     "2024-03-29 16:00", H, "2024-03-29 17:00"),
    ("over a weekend with the spring change", nine_to_five(BERLIN), BERLIN,
     "2024-03-29 16:00", 2 * H, "2024-04-01 10:00"),
    ("from a Saturday", nine_to_five(BERLIN), BERLIN, "2024-03-30 12:00", H, "2024-04-01 10:00"),
    ("before opening", nine_to_five(BERLIN), BERLIN, "2024-04-02 08:00", 30 * M, "2024-04-02 09:30"),
    ("after closing", nine_to_five(BERLIN), BERLIN, "2024-04-02 17:30", 8 * H, "2024-04-03 17:00"),
    ("zero is the start, even when closed", nine_to_five(BERLIN), BERLIN,
     "2024-03-30 12:00", timedelta(0), "2024-03-30 12:00"),
    ("a week of business hours", nine_to_five(BERLIN), BERLIN,
     "2024-04-01 09:00", 40 * H, "2024-04-05 17:00"),
    ("over yearly Christmas holidays", nine_to_five(BERLIN, *CHRISTMAS), BERLIN,
     "2024-12-24 16:00", 2 * H, "2024-12-27 10:00"),
    ("a one-off holiday", nine_to_five(BERLIN, Holiday(date(2024, 5, 1))), BERLIN,
     "2024-04-30 16:30", H, "2024-05-02 09:30"),
    ("the one-off holiday is not yearly", nine_to_five(BERLIN, Holiday(date(2023, 5, 1))), BERLIN,
     "2024-04-30 16:30", H, "2024-05-01 09:30"),
    ("spring change in New York", nine_to_five(NEW_YORK), NEW_YORK,
     "2024-03-08 16:00", 2 * H, "2024-03-11 10:00"),
    ("autumn change in New York", nine_to_five(NEW_YORK), NEW_YORK,
     "2024-11-01 16:00", 2 * H, "2024-11-04 10:00"),
    ("24 h over the spring change are 24 real hours", full_days(BERLIN), BERLIN,
     "2024-03-30 12:00", 24 * H, "2024-03-31 13:00"),
    ("24 h over the autumn change are 24 real hours", full_days(BERLIN), BERLIN,
     "2024-10-26 12:00", 24 * H, "2024-10-27 11:00"),
    ("no minute lost at midnight", full_days(BERLIN), BERLIN,
     "2024-06-03 23:30", H, "2024-06-04 00:30"),
    ("a full week of full days", full_days(BERLIN), BERLIN,
     "2024-06-03 00:00", 7 * 24 * H, "2024-06-10 00:00"),
    ("seed 004: one working day from Friday afternoon", WORKING_DAY, "UTC",
     "2024-03-29 15:00", 24 * H, "2024-04-01 15:00"),
    ("seed 004: one working day from Saturday", WORKING_DAY, "UTC",
     "2024-03-30 10:00", 24 * H, "2024-04-02 00:00"),
    ("night shift across midnight", night_shift("UTC"), "UTC",
     "2024-05-31 23:00", 7 * H, "2024-06-01 06:00"),
    ("night shift over the weekend", night_shift("UTC"), "UTC",
     "2024-05-31 23:00", 8 * H, "2024-06-03 23:00"),
    ("a holiday removes the part after midnight", night_shift("UTC", Holiday(date(2024, 6, 1))),
     "UTC", "2024-05-31 23:00", 2 * H, "2024-06-03 23:00"),
    ("Sydney Saturday night as clocks go forward", Schedule(SYDNEY, (Interval(5, time(22), time(6), True),)),
     SYDNEY, "2024-10-05 22:00", 7 * H, "2024-10-06 06:00"),
    ("Sydney Saturday night as clocks go back", Schedule(SYDNEY, (Interval(5, time(22), time(6), True),)),
     SYDNEY, "2024-04-06 22:00", 9 * H, "2024-04-07 06:00"),
    ("a day with no hours is skipped", SPLIT_NO_WEDNESDAY, BERLIN,
     "2024-06-04 16:00", 2 * H, "2024-06-06 10:00"),
    ("the lunch break does not count", SPLIT_NO_WEDNESDAY, BERLIN,
     "2024-06-03 11:00", 2 * H, "2024-06-03 14:00"),
    ("around the clock, over the autumn change", ALWAYS, BERLIN,
     "2024-10-27 01:30", 150 * M, "2024-10-27 03:00"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("schedule", "zone", "start", "duration", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in ADD_CASES],
)
def test_add(schedule, zone, start, duration, expected):
    assert schedule.add(at(zone, start), duration) == at(zone, expected).astimezone(UTC)


def sydney_overnight() -> Schedule:
    """Saturday night to Sunday morning, when Sydney's clocks change."""
    return Schedule(SYDNEY, (Interval(5, time(22), time(6), True),))


# (case, schedule, zone, start, end, expected business time)
BETWEEN_CASES = [
    ("Friday afternoon to Monday morning", nine_to_five(BERLIN), BERLIN,
     "2024-03-29 16:00", "2024-04-01 10:00", 2 * H),
    ("backwards is negative", nine_to_five(BERLIN), BERLIN,
     "2024-04-01 10:00", "2024-03-29 16:00", -2 * H),
    ("inside closed time", nine_to_five(BERLIN), BERLIN,
     "2024-03-30 10:00", "2024-03-31 10:00", timedelta(0)),
    ("a spring weekend of full days lasts 47 h", full_days(BERLIN), BERLIN,
     "2024-03-30 00:00", "2024-04-01 00:00", 47 * H),
    ("an autumn weekend of full days lasts 49 h", full_days(BERLIN), BERLIN,
     "2024-10-26 00:00", "2024-10-28 00:00", 49 * H),
    ("01:00-04:00 on the spring Sunday is 2 h", Schedule(BERLIN, (Interval(6, time(1), time(4)),)),
     BERLIN, "2024-03-31 00:00", "2024-04-01 00:00", 2 * H),
    ("01:00-04:00 on the autumn Sunday is 4 h", Schedule(BERLIN, (Interval(6, time(1), time(4)),)),
     BERLIN, "2024-10-27 00:00", "2024-10-28 00:00", 4 * H),
    ("Sydney Saturday night as clocks go forward", sydney_overnight(), SYDNEY,
     "2024-10-05 12:00", "2024-10-06 12:00", 7 * H),
    ("Sydney Saturday night as clocks go back", sydney_overnight(), SYDNEY,
     "2024-04-06 12:00", "2024-04-07 12:00", 9 * H),
    ("New York 9-5 week with the spring change", nine_to_five(NEW_YORK), NEW_YORK,
     "2024-03-04 00:00", "2024-03-16 00:00", 80 * H),
    ("seed 004: Friday noon to Monday noon is one working day", WORKING_DAY, "UTC",
     "2024-03-29 12:00", "2024-04-01 12:00", 24 * H),
    ("Christmas week", nine_to_five(BERLIN, *CHRISTMAS), BERLIN,
     "2024-12-23 00:00", "2024-12-30 00:00", 24 * H),
    ("around the clock", ALWAYS, NEW_YORK, "2024-03-09 12:00", "2024-03-10 12:00", 23 * H),
]  # fmt: skip


@pytest.mark.parametrize(
    ("schedule", "zone", "start", "end", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in BETWEEN_CASES],
)
def test_between(schedule, zone, start, end, expected):
    assert schedule.between(at(zone, start), at(zone, end)) == expected


# (case, intervals, code)
INVALID = [
    ("overlapping", [Interval(0, time(9), time(12)), Interval(0, time(11), time(13))], "overlap"),
    ("overlapping across midnight",
     [Interval(0, time(22), time(6), True), Interval(1, time(5), time(7))], "overlap"),
    ("overlapping across the week's end",
     [Interval(6, time(22), time(6), True), Interval(0, time(5), time(9))], "overlap"),
    ("end before start, not across midnight", [Interval(0, time(17), time(9))], "end_before_start"),
    ("empty interval", [Interval(0, time(9), time(9))], "end_before_start"),
    ("longer than a day", [Interval(0, time(9), time(10), True)], "longer_than_a_day"),
    ("no working time", [], "no_working_time"),
    ("not a weekday", [Interval(7, time(9), time(17))], "invalid_weekday"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("intervals", "code"), [pytest.param(*case[1:], id=case[0]) for case in INVALID]
)
def test_invalid_schedules_are_refused(intervals, code):
    with pytest.raises(ScheduleInvalid) as refused:
        Schedule("Europe/Berlin", tuple(intervals))
    assert refused.value.code == code


def test_an_unknown_time_zone_is_refused():
    with pytest.raises(ScheduleInvalid) as refused:
        Schedule("Europe/Atlantis", (Interval(0, time(9), time(17)),))
    assert (refused.value.code, refused.value.field) == ("unknown_time_zone", "time_zone")


def test_touching_intervals_and_full_days_are_fine():
    schedule = Schedule(
        "UTC",
        (
            Interval(0, time(9), time(12)),
            Interval(0, time(12), time(17)),
            Interval(1, time(0), time(0), True),
            Interval(2, time(0), time(0), True),
        ),
    )
    monday = datetime(2024, 6, 3, 9, tzinfo=UTC)
    assert schedule.between(monday, monday + timedelta(days=3)) == 8 * H + 48 * H


def test_around_the_clock_needs_no_intervals_and_ignores_holidays():
    schedule = Schedule("Europe/Berlin", around_the_clock=True, holidays=CHRISTMAS)
    start = at(BERLIN, "2024-12-25 10:00")
    assert schedule.add(start, 5 * H) == start + 5 * H


def test_holidays_on_every_working_day_leave_no_time():
    every_day = tuple(
        Holiday(date(2020, 1, 1) + timedelta(days=n), yearly=True) for n in range(366)
    )
    schedule = nine_to_five("UTC", *every_day)
    with pytest.raises(NoWorkingTime):
        schedule.add(datetime(2024, 1, 1, tzinfo=UTC), H)


def test_open_and_next_open():
    schedule = nine_to_five(BERLIN)
    assert schedule.is_open(at(BERLIN, "2024-06-03 09:00"))
    assert not schedule.is_open(at(BERLIN, "2024-06-03 17:00"))
    assert schedule.next_open(at(BERLIN, "2024-06-08 03:00")) == at(BERLIN, "2024-06-10 09:00")


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        ALWAYS.add(datetime(2024, 1, 1), H)  # noqa: DTZ001


# ---------------------------------------------------------------- properties

ZONES = [
    "UTC", "Europe/Berlin", "America/New_York", "Australia/Sydney", "America/Santiago",
    "Pacific/Chatham", "Asia/Kolkata", "Europe/London",
]  # fmt: skip


@st.composite
def schedules(draw) -> Schedule:
    zone = draw(st.sampled_from(ZONES))
    if draw(st.integers(0, 9)) == 0:
        return Schedule(zone, around_the_clock=True)
    intervals = []
    for weekday in range(7):
        shape = draw(st.sampled_from(["none", "day", "split", "full", "night"]))
        if shape == "day":
            start = draw(st.integers(0, 22 * 60))
            end = draw(st.integers(start + 1, 24 * 60 - 1))
            intervals.append(Interval(weekday, _t(start), _t(end)))
        elif shape == "split":
            a, b, c, d = sorted(
                draw(st.lists(st.integers(0, 1439), min_size=4, max_size=4, unique=True))
            )
            intervals += [Interval(weekday, _t(a), _t(b)), Interval(weekday, _t(c), _t(d))]
        elif shape == "full":
            intervals.append(Interval(weekday, time(0), time(0), True))
    # A night shift crossing midnight where the next day is free in its early hours.
    for weekday in range(7):
        following = [i for i in intervals if i.weekday == (weekday + 1) % 7]
        today = [i for i in intervals if i.weekday == weekday]
        if not following and not today and draw(st.booleans()):
            intervals.append(Interval(weekday, time(21, 30), time(5, 15), True))
    if not intervals:
        intervals.append(Interval(draw(st.integers(0, 6)), time(9), time(17)))
    holidays = tuple(
        Holiday(day, yearly=draw(st.booleans()))
        for day in draw(st.lists(st.dates(date(2023, 1, 1), date(2026, 12, 31)), max_size=8))
    )
    return Schedule(zone, tuple(intervals), holidays)


def _t(minute: int) -> time:
    return time(minute // 60, minute % 60)


instants = st.datetimes(
    min_value=datetime(2023, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds
    max_value=datetime(2026, 12, 31),  # noqa: DTZ001
    timezones=st.just(UTC),
)
durations = st.integers(0, 200 * 60).map(lambda m: timedelta(minutes=m))
fast = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@fast
@given(schedules(), instants, durations)
def test_adding_then_measuring_gives_the_duration_back(schedule, start, duration):
    assert schedule.between(start, schedule.add(start, duration)) == duration


@fast
@given(schedules(), instants, durations, durations)
def test_adding_is_monotonic(schedule, start, first, second):
    low, high = sorted((first, second))
    assert schedule.add(start, low) <= schedule.add(start, high)
    assert schedule.add(start, low) >= start


@fast
@given(schedules(), instants, durations, durations)
def test_adding_is_additive(schedule, start, first, second):
    assert schedule.add(schedule.add(start, first), second) == schedule.add(start, first + second)


@fast
@given(schedules(), instants, instants, instants)
def test_measuring_is_additive_and_never_exceeds_the_wall_clock(schedule, a, b, c):
    assume(a <= b <= c)
    assert schedule.between(a, b) + schedule.between(b, c) == schedule.between(a, c)
    assert timedelta(0) <= schedule.between(a, c) <= c - a


@fast
@given(schedules(), instants, instants)
def test_adding_what_was_measured_never_passes_the_end(schedule, start, end):
    assume(start <= end)
    due = schedule.add(start, schedule.between(start, end))
    assert due <= end
    assert schedule.between(due, end) == timedelta(0)
