"""Rotation arithmetic, without a database: exhaustive tables for daily, weekly and custom
shifts, restrictions, handoffs at the hour a daylight-saving change happens, layers and
overrides; and properties that hold for any plan (hypothesis)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incidents.oncall.rotation import (
    CUSTOM,
    DAILY,
    WEEKLY,
    Cover,
    Plan,
    Rotation,
    RotationInvalid,
    Window,
    current_or_next,
    final_shifts,
    layer_shifts,
    local_to_utc,
    on_call_at,
)

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"
LORD_HOWE = "Australia/Lord_Howe"  # moves its clocks by half an hour
H = timedelta(hours=1)


def at(zone: str, text: str) -> datetime:
    """'2026-03-29 09:00' in `zone`, as an aware datetime (first occurrence if twice)."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def table(shifts, zone: str) -> list[tuple[str, str, str]]:
    """Shifts as (who, start, end) in the zone's wall-clock time with the UTC offset."""
    z = ZoneInfo(zone)
    return [
        (
            s.user,
            s.start.astimezone(z).strftime("%m-%d %H:%M%z"),
            s.end.astimezone(z).strftime("%m-%d %H:%M%z"),
        )
        for s in shifts
    ]


def rot(zone: str, start: str, *people: str, **kw) -> Rotation:
    return Rotation(name=kw.pop("name", "L"), participants=people, starts_at=at(zone, start), **kw)


WEEKDAYS_9_TO_5 = tuple(Window(d, time(9), time(17)) for d in range(5))

# (case, zone, rotation, range start, range end (local), expected (who, start, end) local)
LAYER_CASES = [
    ("daily at 09:00", BERLIN, rot(BERLIN, "2026-01-05 09:00", "a", "b", "c", kind=DAILY),
     "2026-01-05 00:00", "2026-01-09 00:00",
     [("a", "01-05 09:00+0100", "01-06 09:00+0100"), ("b", "01-06 09:00+0100", "01-07 09:00+0100"),
      ("c", "01-07 09:00+0100", "01-08 09:00+0100"), ("a", "01-08 09:00+0100", "01-09 00:00+0100")]),
    ("daily: the first shift runs from the start to the first handoff", BERLIN,
     rot(BERLIN, "2026-01-05 12:00", "a", "b", kind=DAILY),
     "2026-01-05 00:00", "2026-01-07 12:00",
     [("a", "01-05 12:00+0100", "01-06 09:00+0100"), ("b", "01-06 09:00+0100", "01-07 09:00+0100"),
      ("a", "01-07 09:00+0100", "01-07 12:00+0100")]),
    ("nobody before the rotation starts", BERLIN, rot(BERLIN, "2026-01-07 09:00", "a", kind=DAILY),
     "2026-01-05 00:00", "2026-01-08 00:00",
     [("a", "01-07 09:00+0100", "01-08 00:00+0100")]),
    ("a range long after the start counts the turns", BERLIN,
     rot(BERLIN, "2026-01-05 09:00", "a", "b", "c", kind=DAILY),
     "2026-12-30 08:00", "2026-12-30 10:00",
     # the turn of 29 December is number 358 (b), that of 30 December 359 (c)
     [("b", "12-30 08:00+0100", "12-30 09:00+0100"), ("c", "12-30 09:00+0100", "12-30 10:00+0100")]),
    ("weekly Monday 09:00 stays 09:00 across spring forward", BERLIN,
     rot(BERLIN, "2026-03-16 09:00", "a", "b", kind=WEEKLY, handoff_weekday=0, handoff_time=time(9)),
     "2026-03-16 09:00", "2026-04-06 09:00",
     [("a", "03-16 09:00+0100", "03-23 09:00+0100"), ("b", "03-23 09:00+0100", "03-30 09:00+0200"),
      ("a", "03-30 09:00+0200", "04-06 09:00+0200")]),
    ("weekly Monday 09:00 stays 09:00 across fall back", BERLIN,
     rot(BERLIN, "2026-10-19 09:00", "a", "b", kind=WEEKLY),
     "2026-10-19 09:00", "2026-11-02 09:00",
     [("a", "10-19 09:00+0200", "10-26 09:00+0100"), ("b", "10-26 09:00+0100", "11-02 09:00+0100")]),
    ("weekly: a start mid-week belongs to the week that began the Monday before", BERLIN,
     rot(BERLIN, "2026-01-07 15:00", "a", "b", kind=WEEKLY),
     "2026-01-07 00:00", "2026-01-13 00:00",
     [("a", "01-07 15:00+0100", "01-12 09:00+0100"), ("b", "01-12 09:00+0100", "01-13 00:00+0100")]),
    ("weekly Friday 17:30 handoff", NEW_YORK,
     rot(NEW_YORK, "2026-01-02 17:30", "a", "b", kind=WEEKLY, handoff_weekday=4, handoff_time=time(17, 30)),
     "2026-01-02 17:30", "2026-01-16 17:30",
     [("a", "01-02 17:30-0500", "01-09 17:30-0500"), ("b", "01-09 17:30-0500", "01-16 17:30-0500")]),
    # 02:30 does not exist on 29 March 2026 in Berlin: the handoff is when clocks jump, 03:00.
    ("daily 02:30 on the spring-forward night (Berlin)", BERLIN,
     rot(BERLIN, "2026-03-28 02:30", "a", "b", kind=DAILY, handoff_time=time(2, 30)),
     "2026-03-28 02:30", "2026-03-31 02:30",
     [("a", "03-28 02:30+0100", "03-29 03:00+0200"), ("b", "03-29 03:00+0200", "03-30 02:30+0200"),
      ("a", "03-30 02:30+0200", "03-31 02:30+0200")]),
    # 02:30 happens twice on 25 October 2026 in Berlin: the handoff is the first one (CEST).
    ("daily 02:30 on the fall-back night (Berlin)", BERLIN,
     rot(BERLIN, "2026-10-24 02:30", "a", "b", kind=DAILY, handoff_time=time(2, 30)),
     "2026-10-24 02:30", "2026-10-26 02:30",
     [("a", "10-24 02:30+0200", "10-25 02:30+0200"), ("b", "10-25 02:30+0200", "10-26 02:30+0100")]),
    ("weekly Sunday 02:30 on the spring-forward night (New York)", NEW_YORK,
     rot(NEW_YORK, "2026-03-01 02:30", "a", "b", kind=WEEKLY, handoff_weekday=6, handoff_time=time(2, 30)),
     "2026-03-01 02:30", "2026-03-15 02:30",
     [("a", "03-01 02:30-0500", "03-08 03:00-0400"), ("b", "03-08 03:00-0400", "03-15 02:30-0400")]),
    ("daily 01:30 on the fall-back night (New York)", NEW_YORK,
     rot(NEW_YORK, "2026-10-31 01:30", "a", "b", kind=DAILY, handoff_time=time(1, 30)),
     "2026-10-31 01:30", "2026-11-02 01:30",
     [("a", "10-31 01:30-0400", "11-01 01:30-0400"), ("b", "11-01 01:30-0400", "11-02 01:30-0500")]),
    ("custom 12 h keeps 08:00 and 20:00 across spring forward", BERLIN,
     rot(BERLIN, "2026-03-28 08:00", "a", "b", kind=CUSTOM, shift_minutes=720),
     "2026-03-28 08:00", "2026-03-29 20:00",
     [("a", "03-28 08:00+0100", "03-28 20:00+0100"), ("b", "03-28 20:00+0100", "03-29 08:00+0200"),
      ("a", "03-29 08:00+0200", "03-29 20:00+0200")]),
    ("custom 90 minutes", "UTC", rot("UTC", "2026-01-01 00:00", "a", "b", "c", kind=CUSTOM, shift_minutes=90),
     "2026-01-01 00:00", "2026-01-01 05:00",
     [("a", "01-01 00:00+0000", "01-01 01:30+0000"), ("b", "01-01 01:30+0000", "01-01 03:00+0000"),
      ("c", "01-01 03:00+0000", "01-01 04:30+0000"), ("a", "01-01 04:30+0000", "01-01 05:00+0000")]),
    ("custom 30 minutes: the turns inside the spring gap vanish", BERLIN,
     rot(BERLIN, "2026-03-29 01:30", "a", "b", "c", "d", kind=CUSTOM, shift_minutes=30),
     "2026-03-29 01:30", "2026-03-29 03:30",
     [("a", "03-29 01:30+0100", "03-29 03:00+0200"), ("d", "03-29 03:00+0200", "03-29 03:30+0200")]),
    ("custom 2 days in Lord Howe (half-hour change)", LORD_HOWE,
     rot(LORD_HOWE, "2026-04-04 12:00", "a", "b", kind=CUSTOM, shift_minutes=2 * 24 * 60),
     "2026-04-04 12:00", "2026-04-08 12:00",
     [("a", "04-04 12:00+1100", "04-06 12:00+1030"), ("b", "04-06 12:00+1030", "04-08 12:00+1030")]),
    ("restricted to weekdays 09:00-17:00", BERLIN,
     rot(BERLIN, "2026-01-05 09:00", "a", "b", kind=WEEKLY, windows=WEEKDAYS_9_TO_5),
     "2026-01-08 00:00", "2026-01-13 00:00",
     [("a", "01-08 09:00+0100", "01-08 17:00+0100"), ("a", "01-09 09:00+0100", "01-09 17:00+0100"),
      ("b", "01-12 09:00+0100", "01-12 17:00+0100")]),
    ("a window crossing midnight, cut at the handoff inside it", BERLIN,
     rot(BERLIN, "2026-01-05 00:00", "a", "b", kind=DAILY, handoff_time=time(0),
         windows=(Window(0, time(22), time(6), ends_next_day=True),)),
     "2026-01-05 00:00", "2026-01-13 00:00",
     [("a", "01-05 22:00+0100", "01-06 00:00+0100"), ("b", "01-06 00:00+0100", "01-06 06:00+0100"),
      ("b", "01-12 22:00+0100", "01-13 00:00+0100")]),
    ("a window on the spring-forward night lasts two real hours", BERLIN,
     rot(BERLIN, "2026-03-23 09:00", "a", kind=WEEKLY, windows=(Window(6, time(1), time(4)),)),
     "2026-03-28 00:00", "2026-03-30 00:00",
     [("a", "03-29 01:00+0100", "03-29 04:00+0200")]),
    ("a whole-day window (00:00 → 00:00, next day) on Saturdays", BERLIN,
     rot(BERLIN, "2026-01-05 09:00", "a", "b", kind=WEEKLY, windows=(Window(5, time(0), time(0), True),)),
     "2026-01-05 00:00", "2026-01-19 00:00",
     [("a", "01-10 00:00+0100", "01-11 00:00+0100"), ("b", "01-17 00:00+0100", "01-18 00:00+0100")]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "zone", "rotation", "start", "end", "expected"),
    LAYER_CASES,
    ids=[c[0] for c in LAYER_CASES],
)
def test_layer_shifts(case, zone, rotation, start, end, expected):
    rotation.check()
    assert table(layer_shifts(rotation, zone, at(zone, start), at(zone, end)), zone) == expected


def base(*people: str, **kw) -> Rotation:
    """24x7, weekly on Monday 09:00 Berlin, from Monday 5 January 2026."""
    return rot(BERLIN, "2026-01-05 09:00", *people, name=kw.pop("name", "Base"), kind=WEEKLY, **kw)


def cover(who: str, start: str, end: str) -> Cover:
    return Cover(who, at(BERLIN, start), at(BERLIN, end))


# (case, layers lowest first, overrides oldest first, range (Berlin), expected (who, start, end, source, layer))
PLAN_CASES = [
    ("a business-hours layer on top of a 24x7 one", (base("a", "b"), base("c", name="Day", windows=WEEKDAYS_9_TO_5)), (),
     "2026-01-09 08:00", "2026-01-12 10:00",
     [("a", "01-09 08:00+0100", "01-09 09:00+0100", "layer", "Base"),
      ("c", "01-09 09:00+0100", "01-09 17:00+0100", "layer", "Day"),
      ("a", "01-09 17:00+0100", "01-12 09:00+0100", "layer", "Base"),
      ("c", "01-12 09:00+0100", "01-12 10:00+0100", "layer", "Day")]),
    ("the lower layer shows where the higher has nobody, and its handoff too",
     (base("a", "b"), base("c", name="Day", windows=WEEKDAYS_9_TO_5)), (),
     "2026-01-12 08:00", "2026-01-12 18:00",
     [("a", "01-12 08:00+0100", "01-12 09:00+0100", "layer", "Base"),
      ("c", "01-12 09:00+0100", "01-12 17:00+0100", "layer", "Day"),
      ("b", "01-12 17:00+0100", "01-12 18:00+0100", "layer", "Base")]),
    ("an override spanning a handoff", (base("a", "b"),), (cover("z", "2026-01-11 12:00", "2026-01-12 12:00"),),
     "2026-01-11 00:00", "2026-01-13 00:00",
     [("a", "01-11 00:00+0100", "01-11 12:00+0100", "layer", "Base"),
      ("z", "01-11 12:00+0100", "01-12 12:00+0100", "override", ""),
      ("b", "01-12 12:00+0100", "01-13 00:00+0100", "layer", "Base")]),
    ("an override covering part of a shift", (base("a", "b"),), (cover("z", "2026-01-07 20:00", "2026-01-08 08:00"),),
     "2026-01-07 00:00", "2026-01-09 00:00",
     [("a", "01-07 00:00+0100", "01-07 20:00+0100", "layer", "Base"),
      ("z", "01-07 20:00+0100", "01-08 08:00+0100", "override", ""),
      ("a", "01-08 08:00+0100", "01-09 00:00+0100", "layer", "Base")]),
    ("the later of two overlapping overrides wins", (base("a"),),
     (cover("y", "2026-01-07 10:00", "2026-01-07 14:00"), cover("z", "2026-01-07 12:00", "2026-01-07 13:00")),
     "2026-01-07 09:00", "2026-01-07 15:00",
     [("a", "01-07 09:00+0100", "01-07 10:00+0100", "layer", "Base"),
      ("y", "01-07 10:00+0100", "01-07 12:00+0100", "override", ""),
      ("z", "01-07 12:00+0100", "01-07 13:00+0100", "override", ""),
      ("y", "01-07 13:00+0100", "01-07 14:00+0100", "override", ""),
      ("a", "01-07 14:00+0100", "01-07 15:00+0100", "layer", "Base")]),
    ("an override fills a gap of a restricted layer", (base("c", windows=WEEKDAYS_9_TO_5),),
     (cover("z", "2026-01-10 10:00", "2026-01-10 12:00"),),
     "2026-01-09 16:00", "2026-01-12 10:00",
     [("c", "01-09 16:00+0100", "01-09 17:00+0100", "layer", "Base"),
      ("z", "01-10 10:00+0100", "01-10 12:00+0100", "override", ""),
      ("c", "01-12 09:00+0100", "01-12 10:00+0100", "layer", "Base")]),
    ("the same person on two layers is one shift per layer", (base("a"), base("a", name="Top", windows=WEEKDAYS_9_TO_5)), (),
     "2026-01-05 08:00", "2026-01-05 18:00",
     [("a", "01-05 09:00+0100", "01-05 17:00+0100", "layer", "Top"),
      ("a", "01-05 17:00+0100", "01-05 18:00+0100", "layer", "Base")]),
    ("an override over a handoff at the spring-forward hour",
     (rot(BERLIN, "2026-03-28 02:30", "a", "b", kind=DAILY, handoff_time=time(2, 30)),),
     (cover("z", "2026-03-29 01:00", "2026-03-29 04:00"),),
     "2026-03-29 00:00", "2026-03-29 06:00",
     [("a", "03-29 00:00+0100", "03-29 01:00+0100", "layer", "L"),
      ("z", "03-29 01:00+0100", "03-29 04:00+0200", "override", ""),
      ("b", "03-29 04:00+0200", "03-29 06:00+0200", "layer", "L")]),
    ("no layers: only the override", (), (cover("z", "2026-01-07 10:00", "2026-01-07 11:00"),),
     "2026-01-07 00:00", "2026-01-08 00:00",
     [("z", "01-07 10:00+0100", "01-07 11:00+0100", "override", "")]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "layers", "overrides", "start", "end", "expected"),
    PLAN_CASES,
    ids=[c[0] for c in PLAN_CASES],
)
def test_final_shifts(case, layers, overrides, start, end, expected):
    plan = Plan(BERLIN, layers, overrides)
    found = final_shifts(plan, at(BERLIN, start), at(BERLIN, end))
    z = ZoneInfo(BERLIN)
    assert [
        (s.user, s.start.astimezone(z).strftime("%m-%d %H:%M%z"),
         s.end.astimezone(z).strftime("%m-%d %H:%M%z"), s.source, s.layer_name)
        for s in found
    ] == expected  # fmt: skip


# (case, instant (Berlin), who is on call)
ON_CALL_CASES = [
    ("before anyone starts", "2026-01-05 08:59", None),
    ("the handoff instant belongs to the incoming", "2026-01-12 09:00", "b"),
    ("just before the handoff", "2026-01-12 08:59", "a"),
    ("business hours: the top layer", "2026-01-13 10:00", "c"),
    ("the override's first instant", "2026-01-14 20:00", "z"),
    ("the override's end belongs to what is below", "2026-01-15 08:00", "b"),
    ("the weekend: the base layer", "2026-01-17 12:00", "b"),
]


@pytest.mark.parametrize(
    ("case", "instant", "who"), ON_CALL_CASES, ids=[c[0] for c in ON_CALL_CASES]
)
def test_on_call_at(case, instant, who):
    ten_to_five = tuple(Window(d, time(10), time(17)) for d in range(5))
    plan = Plan(
        BERLIN,
        (base("a", "b"), base("c", name="Day", windows=ten_to_five)),
        (cover("z", "2026-01-14 20:00", "2026-01-15 08:00"),),
    )
    shift = on_call_at(plan, at(BERLIN, instant))
    assert (shift.user if shift else None) == who


def test_current_or_next_finds_the_next_shift_after_a_gap():
    plan = Plan(BERLIN, (base("c", windows=WEEKDAYS_9_TO_5),))
    friday_evening = at(BERLIN, "2026-01-09 18:00")
    found = current_or_next(plan, friday_evening, timedelta(days=30))
    assert found is not None
    assert (found.user, found.start) == ("c", at(BERLIN, "2026-01-12 09:00"))
    now = current_or_next(plan, at(BERLIN, "2026-01-12 10:00"), timedelta(days=30))
    assert now is not None
    assert (now.user, now.start) == ("c", at(BERLIN, "2026-01-12 10:00"))
    assert current_or_next(Plan(BERLIN), friday_evening, timedelta(days=30)) is None


# (case, zone, wall-clock, expected UTC)
LOCAL_CASES = [
    ("an ordinary time", BERLIN, "2026-01-05 09:00", "2026-01-05 08:00"),
    ("spring gap: the moment clocks jump", BERLIN, "2026-03-29 02:30", "2026-03-29 01:00"),
    ("spring gap start", BERLIN, "2026-03-29 02:00", "2026-03-29 01:00"),
    ("just after the gap", BERLIN, "2026-03-29 03:00", "2026-03-29 01:00"),
    ("fall back: the first of two", BERLIN, "2026-10-25 02:30", "2026-10-25 00:30"),
    ("after the repeated hour", BERLIN, "2026-10-25 03:00", "2026-10-25 02:00"),
    ("New York spring gap", NEW_YORK, "2026-03-08 02:30", "2026-03-08 07:00"),
    ("New York fall back, first 01:30", NEW_YORK, "2026-11-01 01:30", "2026-11-01 05:30"),
    ("Lord Howe half-hour gap", LORD_HOWE, "2026-10-04 02:15", "2026-10-03 15:30"),
]


@pytest.mark.parametrize(
    ("case", "zone", "wall", "expected"), LOCAL_CASES, ids=[c[0] for c in LOCAL_CASES]
)
def test_local_to_utc(case, zone, wall, expected):
    assert local_to_utc(datetime.fromisoformat(wall), ZoneInfo(zone)) == utc(expected)


# (case, rotation or window, field, code)
INVALID_CASES = [
    ("no participants", Rotation("L", (), at(BERLIN, "2026-01-05 09:00")), "participants", "empty"),
    ("a custom length of zero", Rotation("L", ("a",), at(BERLIN, "2026-01-05 09:00"), kind=CUSTOM, shift_minutes=0),
     "shift_minutes", "zero_length"),
    ("a custom length below 15 minutes", Rotation("L", ("a",), at(BERLIN, "2026-01-05 09:00"), kind=CUSTOM, shift_minutes=5),
     "shift_minutes", "out_of_range"),
    ("a naive start", Rotation("L", ("a",), datetime.fromisoformat("2026-01-05")), "starts_at", "naive"),
    ("a window of zero length", Window(0, time(9), time(9)), "end", "zero_length"),
    ("a window ending before it starts", Window(0, time(17), time(9)), "end", "end_before_start"),
    ("a window longer than a day", Window(0, time(9), time(10), True), "end", "longer_than_a_day"),
    ("weekday 7", Window(7, time(9), time(10)), "weekday", "weekday"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "thing", "field", "code"), INVALID_CASES, ids=[c[0] for c in INVALID_CASES]
)
def test_invalid_rotations_and_windows(case, thing, field, code):
    with pytest.raises(RotationInvalid) as caught:
        thing.check()
    assert (caught.value.field, caught.value.code) == (field, code)


# ---------------------------------------------------------------- properties

ZONES = st.sampled_from(["UTC", BERLIN, NEW_YORK, LORD_HOWE, "Asia/Kolkata", "America/Santiago"])
PEOPLE = st.lists(st.sampled_from("abcdef"), min_size=1, max_size=4, unique=True).map(tuple)
# Wall-clock times, naive on purpose: each test reads them in a zone.
WALL = st.datetimes(
    min_value=datetime.fromisoformat("2025-12-01"), max_value=datetime.fromisoformat("2027-01-31")
)
TIMES = st.sampled_from(
    [time(0), time(1, 30), time(2), time(2, 30), time(3), time(9), time(23, 45)]
)


@st.composite
def windows(draw) -> tuple[Window, ...]:
    found = []
    for _ in range(draw(st.integers(0, 3))):
        start = draw(TIMES)
        crosses = draw(st.booleans())
        end = draw(TIMES)
        if crosses and end > start:
            start, end = end, start
        if not crosses and end <= start:
            continue
        found.append(Window(draw(st.integers(0, 6)), start, end, crosses))
    return tuple(found)


@st.composite
def rotations(draw, zone: str) -> Rotation:
    kind = draw(st.sampled_from([DAILY, WEEKLY, CUSTOM]))
    return Rotation(
        name=draw(st.sampled_from(["L1", "L2", "L3"])),
        participants=draw(PEOPLE),
        starts_at=local_to_utc(draw(WALL), ZoneInfo(zone)),
        kind=kind,
        handoff_weekday=draw(st.integers(0, 6)),
        handoff_time=draw(TIMES),
        shift_minutes=draw(st.integers(15, 5000)) if kind == CUSTOM else None,
        windows=draw(windows()),
    )


@st.composite
def plans(draw) -> tuple[Plan, datetime, datetime]:
    zone = draw(ZONES)
    layers = tuple(draw(st.lists(rotations(zone), max_size=3)))
    start = local_to_utc(draw(WALL), ZoneInfo(zone))
    end = start + timedelta(minutes=draw(st.integers(1, 40 * 24 * 60)))
    covers = []
    for _ in range(draw(st.integers(0, 3))):
        s = start + timedelta(minutes=draw(st.integers(-3000, 40 * 24 * 60)))
        covers.append(
            Cover(
                draw(st.sampled_from("xyz")), s, s + timedelta(minutes=draw(st.integers(1, 5000)))
            )
        )
    return Plan(zone, layers, tuple(covers)), start, end


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plans())
def test_shifts_tile_the_range_and_agree_with_on_call(case):
    plan, start, end = case
    found = final_shifts(plan, start, end)
    # In order, inside the range, no overlaps, no empty shifts.
    for shift in found:
        assert start <= shift.start < shift.end <= end
    for a, b in zip(found, found[1:], strict=False):
        assert a.end <= b.start
        # touching pieces of the same person from the same source would have been one shift
        assert not (
            a.end == b.start
            and (a.user, a.source, a.layer_name) == (b.user, b.source, b.layer_name)
        )
    # Whoever a shift names is on call at its start and its midpoint ...
    for shift in found:
        for instant in (shift.start, shift.start + (shift.end - shift.start) / 2):
            now = on_call_at(plan, instant)
            assert now is not None
            assert (now.user, now.source, now.layer_name) == (
                shift.user,
                shift.source,
                shift.layer_name,
            )
    # ... and nobody is in the gaps between them.
    edges = [start, *[t for s in found for t in (s.start, s.end)], end]
    for gap_start, gap_end in zip(edges[::2], edges[1::2], strict=True):
        if gap_end > gap_start:
            assert on_call_at(plan, gap_start + (gap_end - gap_start) / 2) is None


@settings(max_examples=150, deadline=None)
@given(
    ZONES.flatmap(lambda z: st.tuples(st.just(z), rotations(z))), WALL, st.integers(1, 60 * 24 * 60)
)
def test_an_unrestricted_rotation_covers_everything_from_its_start_and_hands_off_on_time(
    case, wall, minutes
):
    zone, rotation = case
    rotation = dataclasses.replace(rotation, windows=())
    z = ZoneInfo(zone)
    start = local_to_utc(wall, z)
    end = start + timedelta(minutes=minutes)
    found = layer_shifts(rotation, zone, start, end)
    low = max(start, rotation.starts_at)
    if low >= end:
        assert found == []
        return
    assert found[0].start == low
    assert found[-1].end == end
    for a, b in zip(found, found[1:], strict=False):
        assert a.end == b.start  # no gaps, no overlaps
        if rotation.kind != CUSTOM:
            # Handoffs happen at the handoff time, or when clocks jump over it.
            wall_clock = a.end.astimezone(z).replace(tzinfo=None)
            assert (
                wall_clock.time() == rotation.handoff_time
                or local_to_utc(
                    wall_clock.replace(
                        hour=rotation.handoff_time.hour, minute=rotation.handoff_time.minute
                    ),
                    z,
                )
                == a.end
            )
            if rotation.kind == WEEKLY:
                assert wall_clock.weekday() == rotation.handoff_weekday
        assert a.user != b.user


@settings(max_examples=300, deadline=None)
@given(ZONES, WALL, WALL)
def test_local_to_utc_keeps_order(zone, first, second):
    z = ZoneInfo(zone)
    low, high = sorted((first, second))
    assert local_to_utc(low, z) <= local_to_utc(high, z)
