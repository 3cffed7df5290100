"""What the desk and the ticket page read: badges, clocks with history, breaching soon,
compliance. Calendar: Monday to Friday 09:00-17:00 Berlin; 2024-06-03 is a Monday."""

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from communities.models import Community
from slas.selectors import (
    current_clocks,
    humanize,
    sla_badges,
    sla_clocks,
    sla_compliance,
    ticket_clocks,
    tickets_breaching_soon,
)
from slas.services.sweep import sla_sweep
from tests.slas.conftest import berlin, sync
from tickets.models import Ticket
from tickets.services.conversation import message_add
from tickets.services.lifecycle import ticket_open, ticket_transition

pytestmark = pytest.mark.django_db


def open_ticket(desk, subject="Hub down"):
    return ticket_open(
        community=desk.community, requester=desk.representative, subject=subject,
        description="503", opened_by=desk.representative,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(seconds=30), "less than a minute"),
        (timedelta(minutes=45), "45 min"),
        (timedelta(hours=1), "1 h"),
        (timedelta(hours=1, minutes=20), "1 h 20 min"),
        (timedelta(days=2, hours=3), "2 d 3 h"),
        (timedelta(days=3), "3 d"),
        (-timedelta(minutes=15), "15 min"),
    ],
)
def test_humanize(delta, text):
    assert humanize(delta) == text


def test_badges_for_a_queue_page_take_one_query(desk):
    with time_machine.travel(berlin("2024-06-03 10:00"), tick=False) as clock_:
        running = open_ticket(desk, "running")
        warned = open_ticket(desk, "warned")
        breached = open_ticket(desk, "breached")
        paused = open_ticket(desk, "paused")
        untouched = open_ticket(desk, "no clocks yet")
        for ticket in (running, warned, breached, paused):
            sync(ticket)
        message_add(ticket=paused, author=desk.agent, body="Logs please")
        ticket_transition(ticket=paused, name="wait_on_customer", actor=desk.agent)
        sync(paused)
        clock_.move_to(berlin("2024-06-03 12:00"))
        running = open_ticket(desk, "running, opened later")
        sync(running)
        clock_.move_to(berlin("2024-06-03 14:30"))
        sla_sweep()  # warned: 13:00, breached: 14:00 (first responses opened at 10:00)
        message_add(ticket=warned, author=desk.agent, body="On it")  # meets first response
        sync(warned)

        ids = [t.pk for t in (running, warned, breached, paused, untouched)]
        with CaptureQueriesContext(connection) as queries:
            badges = sla_badges(ids)

    assert len(queries) == 1
    assert {t: (b.metric, b.level, b.text) for t, b in badges.items()} == {
        running.pk: ("first_response", "ok", "First response due in 1 h 30 min"),
        warned.pk: ("resolution", "ok", "Resolution due in 2 d 19 h"),
        breached.pk: ("first_response", "breached", "First response overdue by 30 min"),
        paused.pk: ("resolution", "paused", "Resolution paused"),
    }  # the ticket whose clocks never ran has no badge
    assert badges[running.pk].seconds_left == 90 * 60


def test_a_badge_warns_once_the_warning_time_has_come(desk):
    with time_machine.travel(berlin("2024-06-03 10:00"), tick=False) as clock_:
        ticket = open_ticket(desk)
        sync(ticket)
        clock_.move_to(berlin("2024-06-03 13:10"))
        badge = sla_badges([ticket.pk])[ticket.pk]
    assert (badge.level, badge.text, badge.seconds_left) == (
        "warning", "First response due in 50 min", 50 * 60,
    )  # fmt: skip


def test_a_tickets_clocks_show_all_three_with_history_and_business_time_left(desk):
    with time_machine.travel(berlin("2024-06-03 10:00"), tick=False) as clock_:
        ticket = open_ticket(desk)
        clock_.move_to(berlin("2024-06-03 11:00"))
        message_add(ticket=ticket, author=desk.agent, body="Which hub?")
        clock_.move_to(berlin("2024-06-03 16:00"))
        message_add(ticket=ticket, author=desk.representative, body="The main one")
        sync(ticket)
        clock_.move_to(berlin("2024-06-04 10:00"))  # one business hour later, 17 wall-clock hours
        block = ticket_clocks(ticket)
        clocks = sla_clocks(ticket)

    assert block.policy == desk.policy
    assert {metric: (c.target.state if c else None) for metric, c in block.current.items()} == {
        "first_response": "met", "next_update": "running", "resolution": "running",
    }  # fmt: skip
    assert [(c.metric, c.time_left, c.in_time) for c in clocks] == [
        ("first_response", None, True),
        ("resolution", timedelta(hours=16), None),
        ("next_update", timedelta(hours=6), None),
    ]
    assert clocks[2].time_left_text == "6 h left (business time)"
    assert [e.kind for e in clocks[0].history] == ["armed", "met"]


def test_current_clocks_give_each_tickets_latest_clock_per_metric_in_three_queries(desk):
    with time_machine.travel(berlin("2024-06-03 10:00"), tick=False) as clock_:
        ticket = open_ticket(desk)
        other = open_ticket(desk, "other")
        unseen = open_ticket(desk, "unseen")
        for hour, author in ((11, desk.agent), (12, desk.representative), (13, desk.agent)):
            clock_.move_to(berlin(f"2024-06-03 {hour}:00"))
            message_add(ticket=ticket, author=author, body="...")
        clock_.move_to(berlin("2024-06-03 14:00"))
        message_add(ticket=ticket, author=desk.representative, body="And another thing")
        sync(ticket)
        sync(other)
        clock_.move_to(berlin("2024-06-03 15:00"))
        with CaptureQueriesContext(connection) as queries:
            found = current_clocks([ticket.pk, other.pk, unseen.pk])

    assert len(queries) == 3  # the clocks with their calendars, the hours, the holidays
    assert set(found) == {ticket.pk, other.pk}  # the clocks have not seen `unseen`
    mine = found[ticket.pk]
    assert {m: (c.target.state, c.target.started_at, c.time_left) for m, c in mine.items()} == {
        "first_response": ("met", berlin("2024-06-03 10:00"), None),
        # The second next update, from the customer's message at 14:00, not the one met at 13:00.
        "next_update": ("running", berlin("2024-06-03 14:00"), timedelta(hours=7)),
        "resolution": ("running", berlin("2024-06-03 10:00"), timedelta(hours=19)),
    }
    assert [c.history for c in mine.values()] == [[], [], []]
    assert {m: c.target.state for m, c in found[other.pk].items()} == {
        "first_response": "running", "resolution": "running",
    }  # fmt: skip


def test_breaching_soon_lists_running_clocks_due_within_the_horizon_soonest_first(desk, settings):
    settings.SLA_BREACHING_SOON_MINUTES = 60
    with time_machine.travel(berlin("2024-06-03 10:00"), tick=False) as clock_:
        early = open_ticket(desk, "early")
        sync(early)
        clock_.move_to(berlin("2024-06-03 10:30"))
        later = open_ticket(desk, "later")
        sync(later)
        clock_.move_to(berlin("2024-06-03 11:00"))
        answered = open_ticket(desk, "answered")
        sync(answered)
        message_add(ticket=answered, author=desk.agent, body="Hi")
        sync(answered)

        clock_.move_to(berlin("2024-06-03 13:20"))
        soon = tickets_breaching_soon(Ticket.objects.all())
        assert [(t.subject, t.sla_due_at) for t in soon] == [
            ("early", berlin("2024-06-03 14:00")),
        ]
        wider = tickets_breaching_soon(Ticket.objects.all(), timedelta(hours=2))
        assert [t.subject for t in wider] == ["early", "later"]
        scoped = tickets_breaching_soon(Ticket.objects.exclude(subject="early"), timedelta(hours=2))
        assert [t.subject for t in scoped] == ["later"]


def test_compliance_counts_met_in_time_and_the_time_taken(desk):
    with time_machine.travel(berlin("2024-06-03 09:00"), tick=False) as clock_:
        quick = open_ticket(desk, "quick")
        slow = open_ticket(desk, "slow")
        waiting = open_ticket(desk, "waiting")
        for ticket in (quick, slow, waiting):
            sync(ticket)
        clock_.move_to(berlin("2024-06-03 10:00"))
        message_add(ticket=quick, author=desk.agent, body="Hi")  # 1 h
        clock_.move_to(berlin("2024-06-03 14:00"))
        sla_sweep()  # slow and waiting breach their first response
        message_add(ticket=slow, author=desk.agent, body="Sorry")  # 5 h, late
        ticket_transition(ticket=quick, name="resolve", actor=desk.agent)
        for ticket in (quick, slow, waiting):
            sync(ticket)

    report = {
        m.metric: m
        for m in sla_compliance(
            communities=Community.objects.all(),
            start=berlin("2024-06-01 00:00"),
            end=berlin("2024-06-08 00:00"),
        )
    }
    first = report["first_response"]
    assert (first.decided, first.met_in_time, first.late, first.still_running) == (3, 1, 2, 0)
    assert first.share_met_in_time == 0.3333
    assert (first.median_used_seconds, first.p90_used_seconds) == (3 * 3600, 4.6 * 3600)
    assert (first.median_elapsed_seconds, first.p90_elapsed_seconds) == (3 * 3600, 4.6 * 3600)
    resolution = report["resolution"]
    assert (resolution.decided, resolution.met_in_time, resolution.still_running) == (1, 1, 2)
    assert resolution.median_used_seconds == 5 * 3600
    assert report["next_update"].share_met_in_time is None

    elsewhere = sla_compliance(
        communities=Community.objects.exclude(pk=desk.community.pk),
        start=berlin("2024-06-01 00:00"),
        end=berlin("2024-06-08 00:00"),
    )
    assert [m.decided for m in elsewhere] == [0, 0, 0]
    critical_only = sla_compliance(
        communities=Community.objects.all(), start=berlin("2024-06-01 00:00"),
        end=berlin("2024-06-08 00:00"), severity="critical",
    )  # fmt: skip
    assert [m.decided for m in critical_only] == [0, 0, 0]
