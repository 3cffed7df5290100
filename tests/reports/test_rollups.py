"""Daily roll-ups: the triggers mark what changed, the build holds whole past days, and every
figure reads the same with the roll-ups as from the source rows alone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from unittest import mock

import pytest
import time_machine
from django.test import override_settings

from reports import metrics, rollups
from reports.metrics import Filters
from reports.models import DailyRollup, RollupDirtyHour, RollupState
from routing.models import TierEscalation
from slas.models import SLATarget
from tests.communities.factories import CommunityFactory, ServicePlanFactory
from tests.core.factories import AgentFactory
from tests.tickets.factories import MessageFactory, TicketFactory
from tickets.models import Message, SatisfactionRating, TicketEvent

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
START = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)  # not a day's start: a partial first day
H = timedelta(hours=1)
M = timedelta(minutes=1)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def marked() -> set[datetime]:
    return set(RollupDirtyHour.objects.values_list("hour", flat=True))


def clear_marks() -> None:
    RollupDirtyHour.objects.all().delete()


# ---------------------------------------------------------------- what the triggers mark


def test_a_ticket_marks_the_hours_it_was_opened_and_resolved_in():
    community = CommunityFactory.create()
    clear_marks()
    t = TicketFactory.create(
        community=community, created_at=datetime(2026, 3, 5, 9, 40, tzinfo=UTC)
    )
    assert marked() == {datetime(2026, 3, 5, 9, tzinfo=UTC)}
    clear_marks()
    t.status, t.resolved_at = "resolved", datetime(2026, 3, 6, 17, 5, tzinfo=UTC)
    t.save(update_fields=["status", "resolved_at"])
    assert marked() == {datetime(2026, 3, 5, 9, tzinfo=UTC), datetime(2026, 3, 6, 17, tzinfo=UTC)}


def test_a_change_the_figures_do_not_read_marks_nothing():
    t = TicketFactory.create(created_at=datetime(2026, 3, 5, 9, 40, tzinfo=UTC))
    clear_marks()
    t.subject, t.priority_score = "Another subject", 42
    t.save(update_fields=["subject", "priority_score"])
    assert marked() == set()


def test_messages_escalations_and_reopenings_mark_their_tickets_hours():
    t = TicketFactory.create(
        created_at=datetime(2026, 3, 5, 9, 40, tzinfo=UTC),
        status="resolved",
        resolved_at=datetime(2026, 3, 7, 8, 0, tzinfo=UTC),
    )
    hours = {datetime(2026, 3, 5, 9, tzinfo=UTC), datetime(2026, 3, 7, 8, tzinfo=UTC)}
    for write in (
        lambda: MessageFactory.create(ticket=t, author=AgentFactory.create()),
        lambda: TierEscalation.objects.create(
            ticket=t, direction="up", from_tier="community", to_tier="expert"
        ),
        lambda: TicketEvent.objects.create(
            ticket=t, kind="status_changed", data={"transition": "reopen", "status": "open"}
        ),
    ):
        clear_marks()
        write()
        assert marked() == hours
    clear_marks()
    TicketEvent.objects.create(ticket=t, kind="status_changed", data={"transition": "start"})
    assert marked() == set()


def test_clocks_and_ratings_mark_the_hours_they_are_counted_in():
    t = TicketFactory.create(created_at=datetime(2026, 3, 5, 9, 40, tzinfo=UTC))
    clear_marks()
    clock = SLATarget.objects.create(
        ticket=t, community=t.community, metric="first_response", state="running",
        target_minutes=60, started_at=datetime(2026, 3, 5, 10, 1, tzinfo=UTC),
        due_at=datetime(2026, 3, 5, 11, 1, tzinfo=UTC),
    )  # fmt: skip
    assert marked() == {datetime(2026, 3, 5, 10, tzinfo=UTC)}
    clear_marks()
    clock.state, clock.met_at = "met", datetime(2026, 3, 5, 10, 30, tzinfo=UTC)
    clock.save(update_fields=["state", "met_at"])
    assert marked() == {datetime(2026, 3, 5, 10, tzinfo=UTC)}
    clear_marks()
    SatisfactionRating.objects.create(
        ticket=t, requester=t.requester, score="good",
        answered_at=datetime(2026, 3, 8, 23, 59, tzinfo=UTC),
    )  # fmt: skip
    assert marked() == {datetime(2026, 3, 8, 23, tzinfo=UTC)}


# ---------------------------------------------------------------- splitting a period


def hold(first: date, last: date, zone: str = "UTC") -> None:
    RollupState.objects.update_or_create(
        pk=1, defaults={"time_zone": zone, "first_day": first, "last_day": last}
    )


def test_a_period_is_split_into_clean_whole_days_and_source_ranges():
    clear_marks()
    hold(date(2026, 2, 1), date(2026, 3, 30))
    RollupDirtyHour.objects.create(hour=datetime(2026, 3, 10, 14, tzinfo=UTC))
    s = rollups.split(START, NOW, (1, 2), by_ticket=False)
    expected = [date(2026, 3, 2) + timedelta(days=i) for i in range(29)]
    expected.remove(date(2026, 3, 10))
    assert list(s.days) == expected
    assert s.ranges == (
        (START, datetime(2026, 3, 2, tzinfo=UTC)),
        (datetime(2026, 3, 10, tzinfo=UTC), datetime(2026, 3, 11, tzinfo=UTC)),
        (datetime(2026, 3, 31, tzinfo=UTC), NOW),
    )


@pytest.mark.parametrize(
    "case", ["nothing held", "narrowed by ticket", "another time zone", "before the days held"]
)
def test_a_period_the_roll_ups_cannot_serve_is_read_from_the_source(case):
    clear_marks()
    if case != "nothing held":
        hold(date(2026, 2, 1), date(2026, 3, 30), "Europe/Berlin" if "zone" in case else "UTC")
    start, end = (
        (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC))
        if "before" in case
        else (START, NOW)
    )
    s = rollups.split(start, end, (1,), by_ticket=case == "narrowed by ticket")
    assert (s.days, s.ranges) == ((), ((start, end),))


@override_settings(TIME_ZONE="Asia/Kolkata")
def test_days_are_the_desks_days_and_a_marked_hour_spoils_each_day_it_touches():
    clear_marks()
    hold(date(2026, 3, 1), date(2026, 3, 30), "Asia/Kolkata")
    # 18:00 UTC is 23:30 in Kolkata: the hour reaches into the next local day.
    RollupDirtyHour.objects.create(hour=datetime(2026, 3, 10, 18, tzinfo=UTC))
    s = rollups.split(
        datetime(2026, 3, 8, 18, 30, tzinfo=UTC), datetime(2026, 3, 13, 18, 30, tzinfo=UTC), (1,),
        by_ticket=False,
    )  # fmt: skip
    assert s.days == (date(2026, 3, 9), date(2026, 3, 12), date(2026, 3, 13))


# ---------------------------------------------------------------- building


def test_the_build_holds_every_past_day_from_the_first_with_data_and_then_only_whats_new():
    TicketFactory.create(created_at=datetime(2026, 3, 20, 8, tzinfo=UTC))
    assert rollups.rollups_refresh() == 11  # 20 to 30 March
    state = RollupState.objects.get()
    assert (state.first_day, state.last_day) == (date(2026, 3, 20), date(2026, 3, 30))
    assert rollups.rollups_refresh() == 0
    with time_machine.travel(NOW + timedelta(days=1), tick=False):
        assert rollups.rollups_refresh() == 1  # the 31st, marked by nothing but over now
    assert RollupState.objects.get().last_day == date(2026, 3, 31)


def test_a_first_build_goes_a_bounded_number_of_days_per_run():
    TicketFactory.create(created_at=datetime(2026, 3, 1, 8, tzinfo=UTC))
    assert rollups.rollups_refresh(days_per_run=20) == 20
    assert RollupState.objects.get().last_day == date(2026, 3, 20)
    assert rollups.rollups_refresh(days_per_run=20) == 10
    assert RollupState.objects.get().last_day == date(2026, 3, 30)


def test_a_changed_day_is_rebuilt_and_its_marks_cleared():
    community = CommunityFactory.create()
    TicketFactory.create(community=community, created_at=datetime(2026, 3, 20, 8, tzinfo=UTC))
    rollups.rollups_refresh()
    TicketFactory.create(community=community, created_at=datetime(2026, 3, 20, 9, tzinfo=UTC))
    today = TicketFactory.create(community=community, created_at=NOW - H)
    assert rollups.rollups_refresh() == 1
    row = DailyRollup.objects.get(day=date(2026, 3, 20), community=community)
    assert row.opened == 2
    # Today's marks wait until the day is over.
    assert marked() == {today.created_at.replace(minute=0)}


@override_settings(TIME_ZONE="Europe/Berlin")
def test_a_new_desk_time_zone_builds_the_roll_ups_again():
    TicketFactory.create(created_at=datetime(2026, 3, 29, 23, 30, tzinfo=UTC))  # the 30th there
    hold(date(2026, 3, 1), date(2026, 3, 30))  # held in UTC
    DailyRollup.objects.create(day=date(2026, 3, 29), community=CommunityFactory.create())
    rollups.rollups_refresh()
    state = RollupState.objects.get()
    assert (state.time_zone, state.first_day) == ("Europe/Berlin", date(2026, 3, 30))
    assert list(DailyRollup.objects.values_list("day", "opened")) == [(date(2026, 3, 30), 1)]


# ---------------------------------------------------------------- the same figures either way


def _scene():
    """Two communities on two plans; tickets over the period and the one before, answered,
    resolved, reopened, escalated, rated, with SLA clocks; some today."""
    plans = ServicePlanFactory.create_batch(2)
    ours = CommunityFactory.create(service_plan=plans[0])
    theirs = CommunityFactory.create(service_plan=plans[1])
    agent = AgentFactory.create()
    for i in range(48):
        community = (ours, theirs)[i % 2]
        created = NOW - timedelta(hours=29 * i + 3, minutes=7 * i)
        t = TicketFactory.create(
            community=community, created_at=created, tier=("community", "expert")[i % 3 == 0],
            channel=("portal", "email", "api")[i % 3], severity=("low", "high")[i % 4 == 0],
            first_responded_at=created + (5 + 3 * i) * M if i % 5 else None,
        )  # fmt: skip
        for _ in range(1 + i % 3 // 2):
            MessageFactory.create(ticket=t, author=agent, kind=Message.Kind.PUBLIC)
        if i % 7 == 0:
            TierEscalation.objects.create(
                ticket=t, direction="up", from_tier="community", to_tier="expert"
            )
        if i % 11 == 0:
            TicketEvent.objects.create(
                ticket=t, kind="status_changed", data={"transition": "reopen"}
            )
        if i % 4 != 3:
            t.status, t.resolved_at = "resolved", created + (2 + i % 9) * H + i * M
            t.save(update_fields=["status", "resolved_at"])
            if i % 2:
                SatisfactionRating.objects.create(
                    ticket=t, requester=t.requester, score=("good", "bad")[i % 6 == 1],
                    answered_at=t.resolved_at + H,
                )  # fmt: skip
        for metric, due in (("first_response", 2 * H), ("resolution", 20 * H)):
            done = t.first_responded_at if metric == "first_response" else t.resolved_at
            state = "running" if done is None else ("met" if done <= created + due else "breached")
            SLATarget.objects.create(
                ticket=t, community=community, metric=metric, state=state, target_minutes=60,
                started_at=created, due_at=created + due,
                met_at=done if state == "met" else None,
                breached_at=created + due if state == "breached" else None,
                used_seconds=(
                    int((done - created).total_seconds() * 0.6) if done and state == "met" else None
                ),
            )  # fmt: skip
    return ours, theirs, plans


def _everything(f: Filters) -> dict[str, Any]:
    with metrics.shared_reads():
        found: dict[str, Any] = {key: metrics.compute(key, f) for key in metrics.METRICS}
        found["daily"] = metrics.daily_series(f)
        found["by_tier"] = metrics.volume_by(f, "tier")
        found["by_channel"] = metrics.volume_by(f, "channel")
        for group in metrics.GROUP_FIELDS:
            found[group] = metrics.counts_by_community(group, f)
        found["sla"] = metrics.sla_by_community(f, "first_response")
        found["csat"] = metrics.satisfaction_by_community(f)
    return found


def _from_source(f: Filters) -> dict[str, Any]:
    with mock.patch.object(rollups, "_state_and_dirty", return_value=(None, [])):
        return _everything(f)


def test_every_figure_reads_the_same_from_the_roll_ups_as_from_the_source_rows():
    ours, theirs, plans = _scene()
    filters = [
        Filters(start=START, end=NOW, community_ids=(ours.pk, theirs.pk)),
        Filters(start=START - timedelta(days=30), end=START, community_ids=(ours.pk, theirs.pk)),
        Filters(start=START, end=NOW, community_ids=(theirs.pk,)),
        Filters(start=START, end=NOW, community_ids=(ours.pk, theirs.pk), plan=plans[0].pk),
        Filters(start=START, end=NOW, community_ids=(ours.pk, theirs.pk), tier="expert"),
    ]
    before = [_everything(f) for f in filters]
    assert before[0]["volume"].value > 20
    assert before[0]["first_contact_resolution"].value
    assert rollups.rollups_refresh() > 50
    assert DailyRollup.objects.count() > 40
    for f, expected in zip(filters, before, strict=True):
        s = rollups.split(f.start, f.end, f.community_ids, by_ticket=bool(f.tier))
        assert len(s.days) == (0 if f.tier else 29 if f.start == START else 27)
        assert _everything(f) == expected


def test_a_change_to_a_day_held_shows_at_once_and_after_its_rebuild():
    ours, theirs, _ = _scene()
    f = Filters(start=START, end=NOW, community_ids=(ours.pk, theirs.pk))
    rollups.rollups_refresh()
    t = TicketFactory.create(
        community=ours, created_at=datetime(2026, 3, 12, 10, tzinfo=UTC), status="resolved",
        resolved_at=datetime(2026, 3, 14, 10, tzinfo=UTC),
        first_responded_at=datetime(2026, 3, 12, 10, 30, tzinfo=UTC),
    )  # fmt: skip
    MessageFactory.create(ticket=t, author=AgentFactory.create(), kind=Message.Kind.PUBLIC)
    changed = _everything(f)
    assert changed == _from_source(f)
    assert rollups.rollups_refresh() == 2
    assert {hour.date() for hour in marked()} == {NOW.date()}  # today's wait for its end
    assert _everything(f) == changed


def test_the_build_costs_a_fixed_number_of_queries_per_day(django_assert_max_num_queries):
    _scene()
    rollups.rollups_refresh()
    days = [date(2026, 3, 1) + timedelta(days=i) for i in range(30)]
    with django_assert_max_num_queries(2 + 16 * len(days)):
        rollups.build_days(days)
