"""The sweeper: warnings and breaches recorded exactly once, and handed on after commit."""

import re
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.db import connection, connections, transaction

from core.models import Event, EventDelivery
from slas.models import ClockEvent, SLATarget, TicketSLA
from slas.services.sweep import (
    BREACH_SQL,
    FIRST,
    PLAN_SETTINGS,
    WARN_SQL,
    explain_claim,
    sla_sweep,
)
from slas.tasks import sweep as sweep_task
from tests.communities.factories import CommunityFactory, MembershipFactory
from tests.slas.conftest import berlin, clock, sync
from tickets.models import Ticket, TicketEvent
from tickets.services.conversation import message_add
from tickets.services.lifecycle import ticket_assign, ticket_open, ticket_transition


@pytest.fixture(autouse=True)
def _reactions(breach_reaction):
    """Breaches have a reaction of the tests' own: see tests/slas/reactions.py."""


def open_ticket(desk):
    return ticket_open(
        community=desk.community, requester=desk.representative, subject="Hub down",
        description="503", opened_by=desk.representative,
    )  # fmt: skip


def running_targets(count: int, *, due: datetime, not_due: int = 0) -> list[SLATarget]:
    """`count` running clocks due at `due` and `not_due` due a week later, bulk-made."""
    community = CommunityFactory.create()
    requester = MembershipFactory.create(community=community, role="representative").user
    tickets = Ticket.objects.bulk_create(
        Ticket(community=community, requester=requester, subject=f"T{n}", description="x")
        for n in range(count + not_due)
    )
    return SLATarget.objects.bulk_create(
        SLATarget(
            ticket=ticket, community=community, metric="first_response", target_minutes=60,
            started_at=due - timedelta(hours=1),
            due_at=due + timedelta(microseconds=n) + (timedelta(days=7) if n >= count else timedelta()),
        )
        for n, ticket in enumerate(tickets)
    )  # fmt: skip


@pytest.mark.django_db
def test_a_due_clock_is_breached_once_and_handed_on_after_commit(
    desk, django_capture_on_commit_callbacks, enqueued
):
    with time_machine.travel(berlin("2024-06-03 10:00"), tick=False) as clock_:
        ticket = open_ticket(desk)
        sync(ticket)
        enqueued.clear()
        clock_.move_to(berlin("2024-06-03 14:00:01"))
        with django_capture_on_commit_callbacks(execute=True):
            result = sla_sweep()
        again = sla_sweep()

    assert (result.breached, result.warned) == (1, 0)
    assert (again.breached, again.warned) == (0, 0)
    first = clock(ticket, "first_response")
    assert (first.state, first.breached_at) == ("breached", berlin("2024-06-03 14:00:01"))
    assert first.events.get(kind="breached").data == {"due_at": "2024-06-03T12:00:00+00:00"}
    event = Event.objects.get(name="sla.breached")
    assert (event.community_id, event.occurred_at, event.payload) == (
        desk.community.pk,
        berlin("2024-06-03 14:00:01"),
        {
            "ticket_id": ticket.pk, "target_id": first.pk, "metric": "first_response",
            "due_at": "2024-06-03T12:00:00+00:00", "severity": "medium",
            "policy_id": desk.policy.pk,
        },
    )  # fmt: skip
    delivery = EventDelivery.objects.get(event=event)
    assert (delivery.handler, delivery.queue) == ("tests.slas.reactions.record", "paging")
    assert enqueued == [{"kwargs": {"delivery_ids": [delivery.pk]}, "queue": "paging"}]
    # The resolution clock is not due yet.
    assert clock(ticket, "resolution").state == "running"


@pytest.mark.django_db
def test_a_warning_comes_once_before_the_breach(desk):
    with time_machine.travel(berlin("2024-06-03 10:00"), tick=False) as clock_:
        ticket = open_ticket(desk)
        sync(ticket)
        clock_.move_to(berlin("2024-06-03 12:59"))
        assert sla_sweep().warned == 0
        clock_.move_to(berlin("2024-06-03 13:00"))
        assert sla_sweep().warned == 1
        assert sla_sweep().warned == 0
        clock_.move_to(berlin("2024-06-03 14:00"))
        assert (sla_sweep().breached, sla_sweep().breached) == (1, 0)

    first = clock(ticket, "first_response")
    assert [e.kind for e in first.events.order_by("at", "id")] == ["armed", "warned", "breached"]
    sla_events = Event.objects.filter(name__startswith="sla.").order_by("id")
    assert list(sla_events.values_list("name", "payload__target_id")) == [
        ("sla.warning", first.pk), ("sla.breached", first.pk),
    ]  # fmt: skip


@pytest.mark.django_db
def test_a_clock_found_past_its_due_time_is_breached_without_a_warning(desk):
    with time_machine.travel(berlin("2024-06-03 10:00"), tick=False) as clock_:
        ticket = open_ticket(desk)
        sync(ticket)
        clock_.move_to(berlin("2024-06-03 16:00"))  # the sweeper was away
        result = sla_sweep()
    assert (result.breached, result.warned) == (1, 0)
    assert clock(ticket, "first_response").warned_at is None


@pytest.mark.django_db
def test_paused_met_and_cancelled_clocks_never_breach(desk):
    with time_machine.travel(berlin("2024-06-03 10:00"), tick=False) as clock_:
        ticket = open_ticket(desk)
        message_add(ticket=ticket, author=desk.agent, body="Send logs please.")
        ticket_transition(ticket=ticket, name="wait_on_customer", actor=desk.agent)
        sync(ticket)
        clock_.move_to(berlin("2024-06-20 10:00"))
        result = sla_sweep()
    assert (result.breached, result.warned) == (0, 0)
    assert {(t.metric, t.state) for t in SLATarget.objects.filter(ticket=ticket)} == {
        ("first_response", "met"), ("resolution", "paused"),
    }  # fmt: skip


@pytest.mark.django_db
def test_a_clock_whose_ticket_has_entries_not_yet_replayed_waits_for_them(desk):
    with time_machine.travel(berlin("2024-06-03 10:00"), tick=False) as clock_:
        ticket = open_ticket(desk)
        sync(ticket)
        clock_.move_to(berlin("2024-06-03 13:59"))
        message_add(ticket=ticket, author=desk.agent, body="Answered in time.")
        clock_.move_to(berlin("2024-06-03 14:05"))
        # The `slas` reaction to the reply has not run yet: no breach on a met clock.
        assert (sla_sweep().breached, sla_sweep().warned) == (0, 0)
        sync(ticket)
        assert sla_sweep().breached == 0
    first = clock(ticket, "first_response")
    assert (first.state, first.breached_at, first.met_at) == (
        "met", None, berlin("2024-06-03 13:59"),
    )  # fmt: skip


@pytest.mark.django_db
def test_a_breached_clock_met_later_counts_as_late(desk):
    with time_machine.travel(berlin("2024-06-03 10:00"), tick=False) as clock_:
        ticket = open_ticket(desk)
        sync(ticket)
        clock_.move_to(berlin("2024-06-03 15:00"))
        sla_sweep()
        message_add(ticket=ticket, author=desk.agent, body="Sorry for the wait.")
        sync(ticket)
    first = clock(ticket, "first_response")
    assert (first.state, first.breached_at, first.met_at) == (
        "met", berlin("2024-06-03 15:00"), berlin("2024-06-03 15:00"),
    )  # fmt: skip
    assert first.events.get(kind="met").data["in_time"] is False


@pytest.mark.django_db
def test_the_warning_goes_to_the_assignee(desk):
    from core import outbox

    with time_machine.travel(berlin("2024-06-03 10:00"), tick=False) as clock_:
        ticket = open_ticket(desk)
        ticket_assign(ticket=ticket, assignee=desk.agent, actor=desk.agent)
        sync(ticket)
        clock_.move_to(berlin("2024-06-03 13:00"))
        sla_sweep()
        run_notifications(outbox)
        clock_.move_to(berlin("2024-06-03 14:00"))
        sla_sweep()
        run_notifications(outbox)

    assert [(m.subject, m.to) for m in mail.outbox] == [
        (f"[{ticket.reference}] First response due soon: Hub down", [desk.agent.email]),
    ]
    assert "due at 2024-06-03 12:00 UTC" in mail.outbox[0].body


def run_notifications(outbox):
    for delivery in EventDelivery.objects.filter(
        handler__startswith="slas.notifications.", state="pending"
    ).order_by("pk"):
        outbox.delivery_run(delivery_id=delivery.pk)


@pytest.mark.django_db
def test_a_warning_for_a_clock_met_since_is_not_sent(desk):
    from core import outbox

    with time_machine.travel(berlin("2024-06-03 10:00"), tick=False) as clock_:
        ticket = open_ticket(desk)
        ticket_assign(ticket=ticket, assignee=desk.agent, actor=desk.agent)
        sync(ticket)
        clock_.move_to(berlin("2024-06-03 13:00"))
        sla_sweep()
        message_add(ticket=ticket, author=desk.agent, body="Hello")
        sync(ticket)
    run_notifications(outbox)
    assert mail.outbox == []


@pytest.mark.django_db
def test_the_sweep_works_in_batches():
    due = datetime(2024, 6, 3, 12, tzinfo=UTC)
    running_targets(25, due=due, not_due=5)
    with time_machine.travel(due + timedelta(seconds=1), tick=False):
        result = sla_sweep(batch_size=10)
    assert (result.breached, result.batches) == (25, 4)  # 10 + 10 + 5, then one warning pass
    assert SLATarget.objects.filter(state="running").count() == 5


@pytest.mark.django_db
def test_the_sweep_reads_the_partial_index_of_running_clocks():
    due = datetime(2024, 6, 3, 12, tzinfo=UTC)
    running_targets(3, due=due, not_due=3000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE slas_slatarget")
    plan = explain_claim(now=due + timedelta(seconds=1), batch=100)
    assert "Index Scan using sla_target_due on slas_slatarget" in plan
    assert re.search(
        r"Index Scan using sla_target_due on slas_slatarget t \(actual .* rows=3(\.00)? ", plan
    ), plan


def statement_plan(sql: str, *, now: datetime) -> str:
    """The plan of one of the sweep's statements, planned as the sweep plans it; nothing runs."""
    params: dict[str, Any] = {
        "now": now, "batch": 10, "after": FIRST, "event": "sla.breached", "publish": True,
        "handlers": ["tests.slas.reactions.record"], "queues": ["paging"],
    }  # fmt: skip
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(PLAN_SETTINGS)
        cursor.execute("EXPLAIN (COSTS OFF) " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def scattered_targets(count: int, *, due: datetime, every: int) -> None:
    """`count` running clocks on `count / 3` tickets, every `every`-th due at `due` and the
    rest a week later, mixed in the table as clocks of all ages are."""
    community = CommunityFactory.create()
    requester = MembershipFactory.create(community=community, role="representative").user
    tickets = Ticket.objects.bulk_create(
        Ticket(community=community, requester=requester, subject=f"T{n}", description="x")
        for n in range(-(-count // 3))
    )
    SLATarget.objects.bulk_create(
        SLATarget(
            ticket=tickets[n // 3], community=community,
            metric=("first_response", "next_update", "resolution")[n % 3], target_minutes=60,
            started_at=due - timedelta(hours=1),
            due_at=due + timedelta(microseconds=n) + (timedelta() if n % every == 0 else timedelta(days=7)),
        )
        for n in range(count)
    )  # fmt: skip


@pytest.mark.django_db
def test_a_batch_reads_its_own_clocks_only_however_few_the_statistics_expect():
    """Statistics never know the clocks that came due since they were gathered. Left to
    itself the planner then reads every due clock and sorts them, in every batch; the sweep
    has it walk the partial index in due order and stop at the batch's end."""
    due = datetime(2024, 6, 3, 12, tzinfo=UTC)
    scattered_targets(900, due=due, every=100)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE slas_slatarget")
    scattered_targets(900, due=due, every=10)  # 99 due in all; the statistics know of 9

    plan = explain_claim(now=due + timedelta(seconds=1), batch=20)

    assert re.search(
        r"Index Scan using sla_target_due on slas_slatarget t \(actual .* rows=20(\.00)? ", plan
    ), plan
    assert "Sort" not in plan, plan


@pytest.mark.django_db
def test_a_batch_changes_exactly_the_rows_it_locked():
    plan = statement_plan(BREACH_SQL, now=datetime(2024, 6, 3, 12, tzinfo=UTC))
    assert "Tid Scan on slas_slatarget" in plan, plan
    assert "Bitmap" not in plan, plan
    assert "Hash Join" not in plan, plan


@pytest.mark.django_db
def test_the_warning_pass_passes_over_clocks_past_their_due_time_in_the_index():
    """Right after a burst of breaches the warning index still holds the breached clocks'
    old row versions; their due time, in the index, rules them out without reading them."""
    plan = statement_plan(WARN_SQL, now=datetime(2024, 6, 3, 12, tzinfo=UTC))
    assert re.search(
        r"Index Scan using sla_target_warn_due on slas_slatarget t\n\s+Index Cond: \(.*"
        r"\(due_at > ",
        plan,
    ), plan


@pytest.mark.django_db(transaction=True)
def test_a_clock_another_transaction_holds_is_left_to_the_next_sweep():
    due = datetime(2024, 6, 3, 12, tzinfo=UTC)
    targets = running_targets(25, due=due)
    holder = connections.create_connection("default")
    holder.set_autocommit(False)
    try:
        with holder.cursor() as cursor:
            cursor.execute("SELECT 1 FROM slas_slatarget WHERE id = %s FOR UPDATE", [targets[0].pk])
        with time_machine.travel(due + timedelta(seconds=1), tick=False):
            first = sla_sweep(batch_size=10)
            holder.rollback()
            second = sla_sweep(batch_size=10)
    finally:
        holder.close()

    assert (first.breached, second.breached) == (24, 1)
    assert SLATarget.objects.filter(state="breached").count() == 25
    assert ClockEvent.objects.filter(kind="breached").count() == 25


@pytest.mark.django_db
def test_the_beat_schedule_runs_the_sweep_every_few_seconds_on_the_slas_queue():
    assert settings.CELERY_BEAT_SCHEDULE["slas-sweep"]["task"] == "slas.sweep"
    assert (
        settings.CELERY_BEAT_SCHEDULE["slas-sweep"]["schedule"]
        == settings.SLA_SWEEP_INTERVAL_SECONDS
    )
    assert settings.CELERY_TASK_ROUTES["slas.sweep"] == {"queue": "slas"}
    assert sweep_task.name == "slas.sweep"
    sweep_task()  # nothing due: nothing happens
    assert not Event.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_record_each_breach_once():
    due = datetime(2024, 6, 3, 12, tzinfo=UTC)
    targets = running_targets(120, due=due)
    start = threading.Barrier(2)
    results = []
    errors = []

    def sweep():
        try:
            start.wait(timeout=10)
            with time_machine.travel(due + timedelta(seconds=1), tick=False):
                results.append(sla_sweep(batch_size=7))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sum(r.breached for r in results) == 120
    assert all(r.breached > 0 for r in results), results  # both really swept
    assert SLATarget.objects.filter(state="breached").count() == 120
    assert ClockEvent.objects.filter(kind="breached").count() == 120
    breached = Event.objects.filter(name="sla.breached").values_list(
        "payload__target_id", flat=True
    )
    assert sorted(breached) == sorted(t.pk for t in targets)


def test_the_sweeps_statements_name_the_models_tables():
    tables = {m._meta.db_table for m in (SLATarget, ClockEvent, Ticket, Event, EventDelivery)}
    assert tables == {
        "slas_slatarget", "slas_clockevent", "tickets_ticket", "core_event", "core_eventdelivery",
    }  # fmt: skip
    assert TicketSLA._meta.db_table == "slas_ticketsla"
    assert TicketEvent._meta.db_table == "tickets_ticketevent"


def test_the_sweeps_outbox_rows_are_those_publish_writes(desk):
    """The sweep writes events and deliveries in SQL: the same rows core.outbox.publish
    writes, so the relay, the admin and delivery_run treat them alike."""
    from core import outbox

    with time_machine.travel(berlin("2024-06-03 10:00"), tick=False) as clock_:
        ticket = open_ticket(desk)
        sync(ticket)
        clock_.move_to(berlin("2024-06-03 14:00"))
        sla_sweep()
        by_publish = outbox.publish("sla.breached", community_id=desk.community.pk, x=1)
    assert by_publish is not None
    swept = Event.objects.filter(name="sla.breached").exclude(pk=by_publish.pk).get()
    assert (swept.community_id, swept.occurred_at) == (
        by_publish.community_id,
        by_publish.occurred_at,
    )

    def shape(event):
        return sorted(
            EventDelivery.objects.filter(event=event).values_list(
                "handler", "queue", "state", "attempts", "next_attempt_at", "enqueued_at",
                "done_at", "last_error",
            )
        )  # fmt: skip

    assert shape(swept) == shape(by_publish)


@pytest.mark.django_db
def test_a_burst_of_deliveries_is_handed_to_a_worker_to_enqueue(
    settings, django_capture_on_commit_callbacks, enqueued
):
    from unittest import mock

    from slas.tasks import enqueue_deliveries

    settings.SLA_SWEEP_DIRECT_ENQUEUE_MAX = 3
    due = datetime(2024, 6, 3, 12, tzinfo=UTC)
    running_targets(4, due=due)
    with (
        mock.patch.object(enqueue_deliveries, "apply_async") as hand_over,
        time_machine.travel(due + timedelta(seconds=1), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert sla_sweep().breached == 4

    deliveries = list(
        EventDelivery.objects.filter(event__name="sla.breached")
        .order_by("pk")
        .values_list("pk", "queue")
    )
    chunks = [call.kwargs["kwargs"]["deliveries"] for call in hand_over.call_args_list]
    assert [tuple(pair) for chunk in chunks for pair in chunk] == deliveries
    assert all(len(chunk) <= 3 for chunk in chunks)
    # Celery is spared rendering the ids into the message's headers.
    assert [call.kwargs["kwargsrepr"] for call in hand_over.call_args_list] == [
        f"{{'deliveries': <{len(chunk)} ids>}}" for chunk in chunks
    ]
    assert enqueued == []  # nothing sent by the sweep itself

    for chunk in chunks:
        enqueue_deliveries(deliveries=chunk)  # what the worker does
    sent = [(pk, e["queue"]) for e in enqueued for pk in e["kwargs"]["delivery_ids"]]
    assert sent == deliveries
    assert not EventDelivery.objects.filter(event__name="sla.breached", enqueued_at=None).exists()
