"""Each kind of step: time windows in the on-call person's own time, round-robin across
pages, webhooks, automatic resolution, "on call now or next", nobody on call; and the
reminders of acknowledged pages."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

import pytest
import time_machine

from incidents.notify.models import Delivery, Notification
from incidents.oncall.models import Override, Schedule
from incidents.paging.models import Page, PageEvent, PolicyRoute, Via
from incidents.paging.services.engine import page_advance
from incidents.paging.services.pages import page_acknowledge, trigger_page
from incidents.paging.services.policies import policy_create
from routing.models import AgentProfile, Team
from tests.core.factories import AgentFactory
from tests.paging.conftest import T0, committed, minutes, who

pytestmark = pytest.mark.django_db


def trigger(key: str = "k", *, cause: str = "integration") -> Page:
    with committed():
        return trigger_page(
            cause=cause, dedup_key=key, title=f"Alert {key}", details="", severity="high",
            via=Via.API,
        )  # fmt: skip


def advance(page: Page) -> int:
    with committed():
        return page_advance(page_id=page.pk)


def route(policy) -> None:
    PolicyRoute.objects.create(cause="integration", policy=policy)


def kinds(page: Page) -> list[str]:
    return list(PageEvent.objects.filter(page=page).values_list("kind", flat=True))


# ---------------------------------------------------------------- time windows


@pytest.fixture
def window_policy(oncall):
    """Office hours only (Mon-Fri 09:00-17:00 in the primary on-call person's own time),
    then the team lead."""
    policy = policy_create(
        name="Office hours",
        steps=[
            {"kind": "time_window", "schedule": oncall.primary, "window_weekdays": [1, 2, 3, 4, 5],
             "window_starts": time(9), "window_ends": time(17)},
            {"kind": "notify_users", "users": [oncall.lena]},
        ],
    )  # fmt: skip
    route(policy)
    return policy


@pytest.mark.parametrize(
    ("now", "zone", "opens"),
    [
        # Wednesday 10:00 in New York (EDT since 8 March): inside.
        (datetime(2026, 3, 11, 14, 0, tzinfo=UTC), "America/New_York", None),
        # Wednesday 19:00 in New York: Thursday 09:00 EDT.
        (datetime(2026, 3, 11, 23, 0, tzinfo=UTC), "America/New_York",
         datetime(2026, 3, 12, 13, 0, tzinfo=UTC)),
        # Friday 18:00 in Berlin: Monday 09:00 CET.
        (datetime(2026, 3, 13, 17, 0, tzinfo=UTC), "Europe/Berlin",
         datetime(2026, 3, 16, 8, 0, tzinfo=UTC)),
        # Saturday 10:00 in Berlin, a week before summer time starts: Monday 09:00 CET.
        (datetime(2026, 3, 21, 9, 0, tzinfo=UTC), "Europe/Berlin",
         datetime(2026, 3, 23, 8, 0, tzinfo=UTC)),
        # Sunday in Berlin the day summer time starts: Monday 09:00 CEST.
        (datetime(2026, 3, 29, 12, 0, tzinfo=UTC), "Europe/Berlin",
         datetime(2026, 3, 30, 7, 0, tzinfo=UTC)),
    ],
)  # fmt: skip
def test_a_time_window_continues_inside_it_and_waits_for_it_in_local_time(
    oncall, window_policy, now, zone, opens
):
    AgentProfile.objects.create(user=oncall.alice, time_zone=zone)
    AgentProfile.objects.create(user=oncall.bob, time_zone=zone)
    with time_machine.travel(now, tick=False) as traveller:
        page = trigger()
        page.refresh_from_db()
        if opens is None:
            assert who(page) == ["lena"]
            return
        assert who(page) == []
        assert (page.step_index, page.next_escalation_at) == (0, opens)
        event = PageEvent.objects.get(page=page, kind="outside_window")
        assert (event.detail["opens"], event.detail["time_zone"]) == (opens.isoformat(), zone)
        traveller.move_to(opens - minutes(1))
        assert advance(page) == 0
        traveller.move_to(opens)
        advance(page)
        assert who(page) == ["lena"]


def test_a_time_window_without_a_profile_reads_the_schedules_zone(oncall, window_policy):
    Schedule.objects.filter(pk=oncall.primary.pk).update(time_zone="Asia/Tokyo")
    # Wednesday 14:00 UTC is 23:00 in Tokyo: Thursday 09:00 JST (00:00 UTC).
    with time_machine.travel(T0, tick=False):
        page = trigger()
    page.refresh_from_db()
    assert page.next_escalation_at == datetime(2026, 3, 12, 0, 0, tzinfo=UTC)


def test_a_time_window_opening_in_the_spring_gap_opens_when_the_clocks_jump(db):
    lead = AgentFactory.create()
    route(
        policy_create(
            name="Early",
            steps=[
                {
                    "kind": "time_window",
                    "window_starts": time(2, 30),
                    "window_ends": time(5),
                    "window_time_zone": "Europe/Berlin",
                },
                {"kind": "notify_users", "users": [lead]},
            ],
        )  # fmt: skip
    )
    # 01:30 CET on 29 March 2026; 02:30 does not happen that night: 03:00 CEST is 01:00 UTC.
    with time_machine.travel(datetime(2026, 3, 29, 0, 30, tzinfo=UTC), tick=False):
        page = trigger()
    page.refresh_from_db()
    assert page.next_escalation_at == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)


def test_a_time_window_past_midnight(db):
    lead = AgentFactory.create()
    route(
        policy_create(
            name="Nights",
            steps=[
                {
                    "kind": "time_window",
                    "window_starts": time(22),
                    "window_ends": time(6),
                    "window_weekdays": [5],
                    "window_time_zone": "UTC",
                },
                {"kind": "notify_users", "users": [lead]},
            ],
        )  # fmt: skip
    )
    # Saturday 03:00 belongs to Friday night's window.
    with time_machine.travel(datetime(2026, 3, 14, 3, 0, tzinfo=UTC), tick=False):
        inside = trigger("a")
    # Saturday 23:00 does not (Saturday night is not in it): next Friday 22:00.
    with time_machine.travel(datetime(2026, 3, 14, 23, 0, tzinfo=UTC), tick=False):
        outside = trigger("b")
    outside.refresh_from_db()
    assert len(who(inside)) == 1
    assert who(outside) == []
    assert outside.next_escalation_at == datetime(2026, 3, 20, 22, 0, tzinfo=UTC)


# ---------------------------------------------------------------- teams


def test_round_robin_pages_the_next_member_of_the_team_on_each_page(db, at_t0):
    people = [AgentFactory.create() for _ in range(3)]
    team = Team.objects.create(name="Platform")
    team.members.set([AgentProfile.objects.create(user=p) for p in people])
    route(
        policy_create(
            name="Team", steps=[{"kind": "notify_team", "team": team, "team_mode": "round_robin"}]
        )
    )

    pages = [trigger(f"k{n}") for n in range(4)]

    recipients = [Notification.objects.get(source_id=p.pk).recipient for p in pages]
    assert recipients == [people[0], people[1], people[2], people[0]]


def test_a_team_step_notifies_everyone_and_the_fallback_team_after_the_last_step(db, at_t0):
    people = [AgentFactory.create() for _ in range(2)]
    managers = [AgentFactory.create() for _ in range(2)]
    team = Team.objects.create(name="Platform")
    team.members.set([AgentProfile.objects.create(user=p) for p in people])
    leads = Team.objects.create(name="Leads")
    leads.members.set([AgentProfile.objects.create(user=p) for p in managers])
    route(
        policy_create(
            name="Team",
            steps=[{"kind": "notify_team", "team": team}, {"kind": "wait", "wait_minutes": 15}],
            fallback_team=leads,
        )
    )
    page = trigger()
    notified_ = Notification.objects.values_list("recipient_id", flat=True).order_by("recipient_id")
    assert list(notified_) == [p.pk for p in people]
    at_t0.shift(minutes(15))
    advance(page)
    fallback = Notification.objects.filter(key__contains=":fallback:")
    assert list(fallback.values_list("recipient_id", flat=True).order_by("recipient_id")) == [
        p.pk for p in managers
    ]
    assert kinds(page).count("fallback") == 2


# ---------------------------------------------------------------- webhooks, resolve


def test_a_webhook_step_calls_the_url_once_signed_with_its_secret(db, at_t0):
    lead = AgentFactory.create()
    route(
        policy_create(
            name="Hook",
            steps=[
                {"kind": "notify_users", "users": [lead]},
                {
                    "kind": "webhook",
                    "webhook_url": "https://chat.example/hook",
                    "webhook_secret": "s3cret",
                },
            ],
        )  # fmt: skip
    )
    page = trigger()
    delivery = Delivery.objects.get(channel="webhook")
    assert (delivery.address, delivery.signing_secret) == ("https://chat.example/hook", "s3cret")
    assert delivery.notification.key == f"page:{page.pk}:step:1:repeat:0:webhook"
    payload: dict[str, Any] = delivery.payload or {}
    assert payload["page"]["id"] == page.pk
    assert set(payload["actions"]) == {"Acknowledge", "Resolve"}
    assert PageEvent.objects.get(page=page, kind="webhook").detail["delivery_id"] == delivery.pk


def test_a_resolve_step_closes_the_page(db, at_t0):
    lead = AgentFactory.create()
    route(
        policy_create(
            name="Self-healing",
            steps=[
                {"kind": "notify_users", "users": [lead]},
                {"kind": "wait", "wait_minutes": 30},
                {"kind": "resolve"},
            ],
        )  # fmt: skip
    )
    page = trigger()
    at_t0.shift(minutes(30))
    advance(page)
    page.refresh_from_db()
    assert (page.state, page.resolved_by, page.resolved_at) == ("resolved", None, T0 + minutes(30))
    assert PageEvent.objects.get(page=page, kind="resolved").via == "system"


# ---------------------------------------------------------------- on call now or next


def test_nobody_on_call_now_pages_the_next_person_when_the_step_says_so(db, at_t0):
    empty = Schedule.objects.create(name="Weekend")
    later = Schedule.objects.create(name="Later")
    nina = AgentFactory.create()
    Override.objects.create(
        schedule=later, user=nina, start=T0 + minutes(120), end=T0 + minutes(600)
    )
    route(
        policy_create(
            name="Now or next",
            steps=[
                {"kind": "notify_on_call", "schedule": empty},
                {"kind": "notify_on_call", "schedule": later, "on_call_when": "next"},
            ],
        )  # fmt: skip
    )
    page = trigger()
    assert [n.recipient for n in Notification.objects.all()] == [nina]
    nobody = PageEvent.objects.get(page=page, kind="nobody")
    assert nobody.detail["why"] == "nobody on call in Weekend"
    assert (
        "next on call in Later" in PageEvent.objects.get(page=page, kind="notified").detail["why"]
    )


# ---------------------------------------------------------------- reminders


@pytest.fixture
def reminding(oncall):
    oncall.policy.reminder_minutes = 30
    oncall.policy.reminder_confirm_minutes = 10
    oncall.policy.save()
    return oncall


def acknowledged_page(oncall, at_t0) -> Page:
    from tests.paging.conftest import critical_ticket, publish_critical

    publish_critical(critical_ticket())
    at_t0.shift(minutes(1))
    with committed():
        return page_acknowledge(page=Page.objects.get(), actor=oncall.alice, via=Via.LINK)


def test_an_acknowledged_page_reminds_and_falls_back_to_triggered_unconfirmed(
    reminding, at_t0, dispatched
):
    page = acknowledged_page(reminding, at_t0)
    assert page.remind_at == T0 + minutes(31)
    assert dispatched.scheduled[-1] == (page.pk, T0 + minutes(31))

    at_t0.move_to(T0 + minutes(31))
    advance(page)
    page.refresh_from_db()
    assert (page.state, page.reminders, page.remind_at) == ("acknowledged", 1, T0 + minutes(41))
    reminder = Notification.objects.get(key=f"page:{page.pk}:reminder:1:user:{reminding.alice.pk}")
    assert reminder.subject.startswith("Still on it?")

    at_t0.move_to(T0 + minutes(41))
    advance(page)
    page = Page.objects.get(pk=page.pk)
    assert (page.state, page.acknowledged_by, page.remind_at) == ("triggered", None, None)
    event = PageEvent.objects.get(page=page, kind="unacknowledged")
    assert (event.via, event.actor, event.detail["reason"]) == (
        "system", None, "The reminder was not confirmed.",
    )  # fmt: skip
    # Back where the escalation stood: the backup is next, at once.
    assert who(page) == ["alice", "alice", "carol"]


def test_acknowledging_again_confirms_a_reminder(reminding, at_t0):
    page = acknowledged_page(reminding, at_t0)
    at_t0.move_to(T0 + minutes(31))
    advance(page)

    at_t0.move_to(T0 + minutes(35))
    page = page_acknowledge(page=page, actor=reminding.alice, via=Via.LINK)

    assert (page.state, page.reminded_at, page.remind_at) == (
        "acknowledged", None, T0 + minutes(65),
    )  # fmt: skip
    at_t0.move_to(T0 + minutes(41))
    assert advance(page) == 0
    page.refresh_from_db()
    assert page.state == "acknowledged"
    assert kinds(page).count("confirmed") == 1
