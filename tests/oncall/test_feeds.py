"""The iCalendar feeds: read back with icalendar, they are the shifts; a tampered token is
404 and nothing else."""

from __future__ import annotations

from datetime import UTC

import pytest
from icalendar import Calendar

from incidents.oncall.feeds import FEED_AHEAD, FEED_PAST, feed_path
from incidents.oncall.selectors import shifts
from incidents.oncall.services import override_create
from tests.core.factories import AgentFactory, UserFactory
from tests.oncall.conftest import berlin
from tests.oncall.factories import ScheduleFactory

pytestmark = pytest.mark.django_db

NOW = "2026-01-13 12:00"


def events(response) -> list[tuple[str, object, object, str]]:
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    calendar = Calendar.from_ical(response.content)
    return [
        (str(e["summary"]), e.decoded("dtstart"), e.decoded("dtend"), str(e["description"]))
        for e in calendar.walk("VEVENT")
    ]


def test_a_schedule_feed_is_its_shifts_from_a_week_ago_to_60_days_ahead(client, team, time_machine):
    time_machine.move_to(berlin(NOW), tick=False)
    now = berlin(NOW)
    response = client.get(feed_path(schedule=team.schedule))
    expected = shifts(team.schedule, now - FEED_PAST, now + FEED_AHEAD)
    found = events(response)
    assert len(found) == len(expected) > 60
    assert found == [
        (
            f"{s.user.display_name} on call · Primary",
            s.start.astimezone(UTC),
            s.end.astimezone(UTC),
            ("Override" if s.source == "override" else f"Layer: {s.layer_name}")
            + ". Times in UTC; the schedule runs on Europe/Berlin.",
        )
        for s in expected
    ]
    assert found[0][1] == (now - FEED_PAST).astimezone(UTC)
    assert ("Dan D on call · Primary", berlin("2026-01-14 20:00").astimezone(UTC),
            berlin("2026-01-15 08:00").astimezone(UTC),
            "Override. Times in UTC; the schedule runs on Europe/Berlin.") in found  # fmt: skip
    calendar = Calendar.from_ical(response.content)
    assert str(calendar["x-wr-calname"]) == "On call: Primary"
    uids = [str(e["uid"]) for e in calendar.walk("VEVENT")]
    assert len(set(uids)) == len(uids)


def test_a_person_feed_has_their_shifts_on_every_schedule(client, team, time_machine):
    time_machine.move_to(berlin(NOW), tick=False)
    other = ScheduleFactory.create(name="Engineering")
    override_create(
        schedule=other,
        user=team.dan,
        start=berlin("2026-01-20 09:00"),
        end=berlin("2026-01-21 09:00"),
    )
    found = events(client.get(feed_path(user=team.dan)))
    assert [(summary, start, end) for summary, start, end, _ in found] == [
        ("Dan D on call · Primary", berlin("2026-01-14 20:00").astimezone(UTC),
         berlin("2026-01-15 08:00").astimezone(UTC)),
        ("Dan D on call · Engineering", berlin("2026-01-20 09:00").astimezone(UTC),
         berlin("2026-01-21 09:00").astimezone(UTC)),
    ]  # fmt: skip
    cat = events(client.get(feed_path(user=team.cat)))
    assert {summary for summary, *_ in cat} == {"Cat C on call · Primary"}
    # 10:00-17:00 on weekdays: Tuesday 6 (from noon) to Friday 9 January, then nine weeks
    assert len(cat) == 4 + 5 * 9
    assert (cat[0][1], cat[0][2]) == (
        berlin("2026-01-06 12:00").astimezone(UTC), berlin("2026-01-06 17:00").astimezone(UTC),
    )  # fmt: skip


def _tamper(token: str) -> str:
    last = token[-1]
    return token[:-1] + ("A" if last != "A" else "B")


def test_a_tampered_token_is_404_and_nothing_else(client, team):
    path = feed_path(schedule=team.schedule)
    token = path.removeprefix("/oncall/ical/").removesuffix(".ics")
    for bad in (
        _tamper(token),
        token.replace(token.split(":")[0], "eyJzIjoyfQ"),  # another schedule's id, same signature
        "nonsense",
    ):
        response = client.get(f"/oncall/ical/{bad}.ics")
        assert response.status_code == 404
        assert b"BEGIN:VCALENDAR" not in response.content
        assert b"Primary" not in response.content


def test_a_feed_of_a_deleted_schedule_or_a_former_agent_is_404(client, team):
    gone = ScheduleFactory.create()
    path = feed_path(schedule=gone)
    gone.delete()
    assert client.get(path).status_code == 404
    former = AgentFactory.create(is_active=False)
    assert client.get(feed_path(user=former)).status_code == 404
    member = UserFactory.create()
    assert client.get(feed_path(user=member)).status_code == 404


def test_a_feed_needs_no_sign_in_but_only_answers_get(client, team):
    path = feed_path(schedule=team.schedule)
    assert client.get(path).status_code == 200
    assert client.post(path).status_code == 405
