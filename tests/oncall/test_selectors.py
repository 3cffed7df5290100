"""The selectors others build on: on_call, next_on_call, shifts, schedules_for; and the
desk's reads. Each loads a schedule in a fixed number of queries."""

from __future__ import annotations

from datetime import timedelta

import pytest

from incidents.oncall.selectors import (
    handoff_notes_for_incoming,
    handoffs_due,
    next_on_call,
    on_call,
    on_call_board,
    plans_for,
    schedule_calendar,
    schedules_for,
    shifts,
    upcoming_shifts_of,
)
from incidents.oncall.services import handoff_note_write, override_create, schedule_update
from tests.core.factories import AgentFactory
from tests.oncall.conftest import berlin
from tests.oncall.factories import ScheduleFactory, make_layer

pytestmark = pytest.mark.django_db

# (case, instant in Berlin, who: attribute of the team or None)
ON_CALL = [
    ("before the rotation starts", "2026-01-05 08:59", None),
    ("the first week", "2026-01-05 09:00", "ann"),
    ("the handoff instant belongs to the incoming", "2026-01-12 09:00", "ben"),
    ("just before the handoff", "2026-01-12 08:59", "ann"),
    ("business hours: the higher layer", "2026-01-13 10:00", "cat"),
    ("the override", "2026-01-14 20:00", "dan"),
    ("the override's end belongs to what is below", "2026-01-15 08:00", "ben"),
    ("the weekend", "2026-01-17 12:00", "ben"),
    ("the third week, again the first", "2026-01-19 09:00", "ann"),
]


@pytest.mark.parametrize(("case", "instant", "who"), ON_CALL, ids=[c[0] for c in ON_CALL])
def test_on_call(team, case, instant, who):
    assert on_call(team.schedule, berlin(instant)) == (getattr(team, who) if who else None)


def test_shifts_over_a_range_are_the_final_schedule(team):
    found = shifts(team.schedule, berlin("2026-01-14 16:00"), berlin("2026-01-15 12:00"))
    assert [(s.user, s.start, s.end, s.source, s.layer_name) for s in found] == [
        (team.cat, berlin("2026-01-14 16:00"), berlin("2026-01-14 17:00"), "layer", "Business hours"),
        (team.ben, berlin("2026-01-14 17:00"), berlin("2026-01-14 20:00"), "layer", "Base"),
        (team.dan, berlin("2026-01-14 20:00"), berlin("2026-01-15 08:00"), "override", ""),
        (team.ben, berlin("2026-01-15 08:00"), berlin("2026-01-15 10:00"), "layer", "Base"),
        (team.cat, berlin("2026-01-15 10:00"), berlin("2026-01-15 12:00"), "layer", "Business hours"),
    ]  # fmt: skip


def test_next_on_call_is_whoever_is_on_now_or_the_next_to_start(team, django_assert_num_queries):
    with django_assert_num_queries(4):
        assert next_on_call(team.schedule, berlin("2026-01-06 03:00")) == (
            team.ann,
            berlin("2026-01-06 03:00"),
        )
    assert next_on_call(team.schedule, berlin("2026-01-01 00:00")) == (
        team.ann,
        berlin("2026-01-05 09:00"),
    )
    empty = ScheduleFactory.create()
    assert next_on_call(empty, berlin("2026-01-01 00:00")) is None


def test_a_restricted_only_schedule_has_nobody_at_night_and_names_the_next(db):
    ann = AgentFactory.create()
    schedule = ScheduleFactory.create()
    from tests.oncall.conftest import WEEKDAYS_9_TO_5

    make_layer(schedule, [ann], starts_at=berlin("2026-01-05 09:00"), restrictions=WEEKDAYS_9_TO_5)
    assert on_call(schedule, berlin("2026-01-09 18:00")) is None
    assert next_on_call(schedule, berlin("2026-01-09 18:00")) == (ann, berlin("2026-01-12 09:00"))


def test_the_selectors_load_a_schedule_in_four_queries(team, django_assert_num_queries):
    at = berlin("2026-01-13 10:00")
    with django_assert_num_queries(4):
        on_call(team.schedule, at)
    with django_assert_num_queries(4):
        shifts(team.schedule, at, at + timedelta(days=60))


def test_plans_for_many_schedules_is_four_queries(team, django_assert_num_queries):
    others = []
    for n in range(3):
        schedule = ScheduleFactory.create()
        make_layer(schedule, [AgentFactory.create()], starts_at=berlin("2026-01-05 09:00"))
        override_create(
            schedule=schedule,
            user=team.dan,
            start=berlin("2026-01-06 00:00"),
            end=berlin(f"2026-01-0{7 + n} 00:00"),
        )
        others.append(schedule)
    with django_assert_num_queries(4):
        loaded = plans_for([team.schedule, *others], berlin("2026-01-05"), berlin("2026-02-05"))
    assert [len(loaded[s.pk].plan.layers) for s in [team.schedule, *others]] == [2, 1, 1, 1]
    assert [len(loaded[s.pk].plan.overrides) for s in [team.schedule, *others]] == [1, 1, 1, 1]


def test_schedules_for_lists_rotations_and_current_overrides(team, time_machine):
    time_machine.move_to(berlin("2026-01-10 12:00"))
    elsewhere = ScheduleFactory.create(name="Elsewhere")
    override_create(
        schedule=elsewhere, user=team.cat, start=berlin("2026-01-11"), end=berlin("2026-01-12")
    )
    past = ScheduleFactory.create(name="Past")
    override_create(
        schedule=past, user=team.cat, start=berlin("2026-01-01"), end=berlin("2026-01-02")
    )
    assert list(schedules_for(team.ann)) == [team.schedule]
    assert list(schedules_for(team.cat).order_by("name")) == [elsewhere, team.schedule]
    assert list(schedules_for(team.dan)) == [team.schedule]
    assert list(schedules_for(AgentFactory.create())) == []


def test_the_board_shows_each_schedule_with_its_backup_in_five_queries(
    team, django_assert_num_queries
):
    backup = ScheduleFactory.create(name="Backup")
    make_layer(backup, [team.cat, team.ann], starts_at=berlin("2026-01-05 09:00"))
    schedule_update(schedule=backup, data={"backup_of": team.schedule})
    with django_assert_num_queries(5):
        board = on_call_board(berlin("2026-01-06 03:00"))
    assert len(board) == 1
    row = board[0]
    assert row.schedule == team.schedule
    assert row.shift is not None
    assert (row.shift.user, row.shift.end) == (team.ann, berlin("2026-01-06 10:00"))
    assert row.next_shift is not None
    assert (row.next_shift.user, row.next_shift.start) == (team.cat, berlin("2026-01-06 10:00"))
    assert [(b.schedule, b.shift.user if b.shift else None) for b in row.backups] == [
        (backup, team.cat)
    ]


def test_the_calendar_has_each_layer_the_overrides_and_the_result(team, django_assert_num_queries):
    with django_assert_num_queries(4):
        calendar = schedule_calendar(
            team.schedule, berlin("2026-01-14 00:00"), berlin("2026-01-15 00:00")
        )
    assert [row.name for row in calendar.layers] == ["Business hours", "Base"]
    assert [(s.user, s.start, s.end) for s in calendar.layers[0].shifts] == [
        (team.cat, berlin("2026-01-14 10:00"), berlin("2026-01-14 17:00"))
    ]
    assert [(s.user, s.start, s.end) for s in calendar.layers[1].shifts] == [
        (team.ben, berlin("2026-01-14 00:00"), berlin("2026-01-15 00:00"))
    ]
    assert [(s.user, s.start, s.end) for s in calendar.overrides] == [
        (team.dan, berlin("2026-01-14 20:00"), berlin("2026-01-15 00:00"))
    ]
    assert [s.user for s in calendar.final] == [team.ben, team.cat, team.ben, team.dan]


def test_upcoming_shifts_of_a_person(team, time_machine):
    time_machine.move_to(berlin("2026-01-13 12:00"))
    mine = upcoming_shifts_of(team.dan, berlin("2026-01-14 00:00"), berlin("2026-01-16 00:00"))
    assert [(s.name, shift.start, shift.end) for s, shift in mine] == [
        ("Primary", berlin("2026-01-14 20:00"), berlin("2026-01-15 08:00"))
    ]


def test_handoffs_due_until_a_note_is_written(team):
    # Ben hands over to Cat at 10:00 on Tuesday 13 January; Cat back to Ben at 17:00.
    now = berlin("2026-01-13 06:00")
    due = handoffs_due(team.ben, now)
    assert [(d.handoff_at, d.outgoing, d.incoming) for d in due] == [
        (berlin("2026-01-13 10:00"), team.ben, team.cat),
    ]
    # From 12 hours before a handoff to 12 hours after it.
    assert [d.handoff_at for d in handoffs_due(team.cat, berlin("2026-01-13 04:30"))] == [
        berlin("2026-01-12 17:00")
    ]
    assert [d.handoff_at for d in handoffs_due(team.cat, berlin("2026-01-13 05:30"))] == [
        berlin("2026-01-13 17:00")
    ]
    note = handoff_note_write(
        schedule=team.schedule,
        handoff_at=berlin("2026-01-13 10:00"),
        author=team.ben,
        follow_ups="Watch the disk on db-2.",
    )
    assert handoffs_due(team.ben, now) == []
    assert handoff_notes_for_incoming(team.cat, berlin("2026-01-13 06:00")) == [note]
    assert handoff_notes_for_incoming(team.cat, berlin("2026-01-12 06:00")) == []
    assert handoff_notes_for_incoming(team.ann, berlin("2026-01-13 06:00")) == []
