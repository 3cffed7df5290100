"""Calendars through their services: bad input refused with nothing saved, holidays by hand
and from iCalendar files, and which calendar a ticket's clocks run on."""

from datetime import date, time

import pytest
import time_machine

from slas.errors import CalendarInvalid, HolidayFileInvalid
from slas.models import BusinessCalendar, Holiday, WorkingInterval
from slas.selectors import calendar_for, schedule_of
from slas.services.calendars import (
    HolidaySpec,
    IntervalSpec,
    business_calendar_save,
    community_calendar_set,
    holiday_set_active,
    holidays_import,
    plan_calendar_set,
)
from tests.communities.factories import CommunityFactory
from tests.core.factories import AgentFactory
from tests.slas.conftest import berlin
from tests.slas.factories import NINE_TO_FIVE, calendar_create

pytestmark = pytest.mark.django_db

ICS = b"""BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//Test//Holidays//EN\r
BEGIN:VEVENT\r
UID:christmas@test\r
DTSTART;VALUE=DATE:20241225\r
DTEND;VALUE=DATE:20241227\r
SUMMARY:Christmas\r
RRULE:FREQ=YEARLY\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:whit-monday-2025@test\r
DTSTART;VALUE=DATE:20250609\r
SUMMARY:Whit Monday\r
END:VEVENT\r
END:VCALENDAR\r
"""


@pytest.mark.parametrize(
    ("intervals", "code", "field"),
    [
        (
            [IntervalSpec(0, time(9), time(12)), IntervalSpec(0, time(11), time(13))],
            "overlap",
            "intervals",
        ),
        ([IntervalSpec(0, time(17), time(9))], "end_before_start", "end"),
        ([IntervalSpec(0, time(9), time(10), True)], "longer_than_a_day", "end"),
        ([], "no_working_time", None),
    ],
    ids=["overlap", "end before start", "longer than a day", "no working time"],
)
def test_a_calendar_that_cannot_work_is_refused_and_nothing_is_saved(intervals, code, field):
    with pytest.raises(CalendarInvalid) as refused:
        calendar_create(intervals=intervals)
    assert (refused.value.code, refused.value.field) == (code, field)
    assert not BusinessCalendar.objects.exists()
    assert not WorkingInterval.objects.exists()


def test_an_unknown_time_zone_is_refused():
    with pytest.raises(CalendarInvalid) as refused:
        calendar_create(time_zone="Mars/Olympus_Mons")
    assert (refused.value.code, refused.value.field) == ("unknown_time_zone", "time_zone")
    assert not BusinessCalendar.objects.exists()


def test_an_around_the_clock_calendar_needs_no_hours():
    calendar = calendar_create(name="24/7", around_the_clock=True, intervals=[])
    assert schedule_of(calendar).around_the_clock is True  # type: ignore[union-attr]


def test_changing_a_calendar_replaces_its_hours_and_keeps_a_history():
    agent = AgentFactory.create()
    calendar = calendar_create(actor=agent)
    monday_only = [IntervalSpec(0, time(8), time(12))]
    business_calendar_save(calendar=calendar, name="Mondays", time_zone="UTC",
                           intervals=monday_only, actor=agent)  # fmt: skip

    calendar.refresh_from_db()
    assert (calendar.name, calendar.time_zone) == ("Mondays", "UTC")
    assert list(calendar.intervals.values_list("weekday", "start", "end")) == [
        (0, time(8), time(12))
    ]
    assert calendar.history.count() == 2
    assert WorkingInterval.history.filter(history_type="-").count() == 5
    assert set(WorkingInterval.history.values_list("history_user", flat=True)) == {agent.pk}


def test_one_calendar_at_most_is_the_default():
    first = calendar_create(name="First", is_default=True)
    second = calendar_create(name="Second", is_default=True)
    first.refresh_from_db()
    assert (first.is_default, second.is_default) == (False, True)


def test_a_switched_off_holiday_is_a_working_day_again():
    calendar = calendar_create(holidays=[HolidaySpec(date(2024, 6, 4), "Closed")])
    monday = berlin("2024-06-03 16:00")
    assert schedule_of(calendar).between(monday, berlin("2024-06-05 10:00")).seconds == 2 * 3600  # type: ignore[union-attr]

    holiday_set_active(holiday=Holiday.objects.get(), active=False)
    calendar.refresh_from_db()
    assert schedule_of(calendar).between(monday, berlin("2024-06-05 10:00")).seconds == 10 * 3600  # type: ignore[union-attr]


def test_holidays_come_from_an_icalendar_file():
    calendar = calendar_create()
    created = holidays_import(calendar=calendar, data=ICS)

    assert [(h.day, h.name, h.yearly, h.active) for h in created] == [
        (date(2024, 12, 25), "Christmas", True, True),
        (date(2024, 12, 26), "Christmas", True, True),
        (date(2025, 6, 9), "Whit Monday", False, True),
    ]
    # Importing again adds nothing, and keeps a holiday that was switched off, off.
    holiday_set_active(holiday=created[2], active=False)
    assert holidays_import(calendar=calendar, data=ICS) == []
    assert Holiday.objects.get(name="Whit Monday").active is False


@pytest.mark.parametrize(
    "data",
    [
        b"not a calendar",
        b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n",
        b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:tomorrow\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:No date\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20240101\r\n"
        b"DTEND;VALUE=DATE:20250101\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        b"\xff\xfe\x00garbage",
    ],
    ids=["text", "no events", "bad date", "no date", "a year long", "binary"],
)
def test_a_malformed_holiday_file_is_refused_and_nothing_is_saved(data):
    calendar = calendar_create()
    with pytest.raises(HolidayFileInvalid) as refused:
        holidays_import(calendar=calendar, data=ICS.replace(b"END:VCALENDAR", b"") + data)
    assert refused.value.field == "file"
    with pytest.raises(HolidayFileInvalid):
        holidays_import(calendar=calendar, data=data)
    assert not Holiday.objects.exists()


def test_a_communitys_calendar_overrides_its_plans_which_overrides_the_default(
    django_assert_num_queries,
):
    community, other = CommunityFactory.create(), CommunityFactory.create()
    assert calendar_for(community_id=community.pk, plan_id=community.service_plan_id) is None
    community_calendar_set(community=other, calendar=calendar_create(name="Someone else's"))
    plan_calendar_set(plan=other.service_plan, calendar=calendar_create(name="Their plan's"))
    assert calendar_for(community_id=community.pk, plan_id=community.service_plan_id) is None
    default = calendar_create(name="Default", is_default=True)
    assert calendar_for(community_id=community.pk, plan_id=community.service_plan_id) == default

    plans = calendar_create(name="Plan's", intervals=NINE_TO_FIVE)
    plan_calendar_set(plan=community.service_plan, calendar=plans)
    assert calendar_for(community_id=community.pk, plan_id=community.service_plan_id) == plans

    own = calendar_create(name="Own")
    community_calendar_set(community=community, calendar=own)
    with django_assert_num_queries(1):
        assert calendar_for(community_id=community.pk, plan_id=community.service_plan_id) == own

    community_calendar_set(community=community, calendar=None)
    plan_calendar_set(plan=community.service_plan, calendar=None)
    assert calendar_for(community_id=community.pk, plan_id=community.service_plan_id) == default


@time_machine.travel(berlin("2024-06-03 10:00"), tick=False)
def test_a_calendar_broken_by_hand_counts_every_hour_rather_than_stopping_the_clocks():
    calendar = calendar_create()
    WorkingInterval.objects.filter(calendar=calendar).delete()
    calendar.refresh_from_db()
    schedule = schedule_of(calendar)
    assert schedule is not None
    assert schedule.around_the_clock
