"""The clocks of a ticket, driven by the ticket services and the `slas` reaction.

Calendar: Monday to Friday, 09:00-17:00 Europe/Berlin. 2024-06-03 is a Monday.
Policy: first response 4 h, next update 8 h, resolution 24 h, warn at 75 %.
"""

from datetime import timedelta
from unittest import mock

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F

from communities.services import community_update
from core import outbox
from core.models import EventDelivery
from slas.clock import parse_pauses
from slas.models import ClockEvent, SLATarget, TicketSLA
from slas.services.calendars import community_calendar_set
from slas.services.clocks import ticket_clocks_recompute
from slas.services.policies import sla_policy_update
from slas.services.sweep import sla_sweep
from tests.communities.factories import MembershipFactory, ServicePlanFactory
from tests.core.factories import AgentFactory
from tests.slas.conftest import berlin, clock, sync
from tests.slas.factories import FULL_WEEKDAYS, BusinessCalendarFactory, SLAPolicyFactory
from tickets.services.conversation import message_add
from tickets.services.lifecycle import ticket_open, ticket_transition, ticket_update
from tickets.services.relations import ticket_merge

pytestmark = pytest.mark.django_db


def open_ticket(desk, *, requester=None, severity="medium", kind="question"):
    requester = requester or desk.representative
    return ticket_open(
        community=desk.community, requester=requester, subject="Hub down",
        description="Every login returns 503.", opened_by=requester, severity=severity, kind=kind,
    )  # fmt: skip


def states(ticket):
    return {
        (t.metric, t.state) for t in SLATarget.objects.filter(ticket=ticket).only("metric", "state")
    }


def history(target):
    return list(target.events.order_by("at", "id").values_list("kind", flat=True))


def test_a_representatives_request_arms_first_response_and_resolution(desk):
    with time_machine.travel(berlin("2024-06-03 10:00"), tick=False):
        ticket = open_ticket(desk)
        assert sync(ticket) == 1

    first, resolution = clock(ticket, "first_response"), clock(ticket, "resolution")
    assert (first.state, first.started_at, first.due_at, first.warn_at) == (
        "running", berlin("2024-06-03 10:00"), berlin("2024-06-03 14:00"), berlin("2024-06-03 13:00"),
    )  # fmt: skip
    assert (resolution.started_at, resolution.due_at, resolution.warn_at) == (
        berlin("2024-06-03 10:00"), berlin("2024-06-06 10:00"), berlin("2024-06-05 12:00"),
    )  # fmt: skip
    assert (first.target_minutes, first.business, first.policy, first.calendar) == (
        240, True, desk.policy, desk.calendar,
    )  # fmt: skip
    assert not SLATarget.objects.filter(ticket=ticket, metric="next_update").exists()
    assert history(first) == ["armed"]
    sla = TicketSLA.objects.get(ticket=ticket)
    assert sla.policy == desk.policy
    assert sla.match_reason == (
        "“Everything” is the first matching policy (number 1 in order): any plan, any "
        "severity, any kind, any community. Business time follows the calendar “Berlin "
        "office” (Europe/Berlin)."
    )


def test_the_clocks_react_to_ticket_events_on_the_slas_queue(desk, enqueued):
    ticket = open_ticket(desk)
    delivery = EventDelivery.objects.get(
        event__payload__ticket_id=ticket.pk, handler="slas.handlers.sync_ticket_clocks"
    )
    assert (delivery.event.name, delivery.queue) == ("ticket.opened", "slas")

    assert outbox.delivery_run(delivery_id=delivery.pk) is True
    assert states(ticket) == {("first_response", "running"), ("resolution", "running")}


def test_a_reaction_that_runs_late_uses_the_time_things_happened(desk):
    with time_machine.travel(berlin("2024-06-03 10:00"), tick=False):
        ticket = open_ticket(desk)
    with time_machine.travel(berlin("2024-06-03 12:30"), tick=False):
        message_add(ticket=ticket, author=desk.agent, body="On it.", kind="public")
    with time_machine.travel(berlin("2024-06-04 08:00"), tick=False):
        sync(ticket)

    first = clock(ticket, "first_response")
    assert (first.started_at, first.met_at, first.used_seconds) == (
        berlin("2024-06-03 10:00"), berlin("2024-06-03 12:30"), 150 * 60,
    )  # fmt: skip


def test_a_members_request_runs_first_response_from_submission_and_resolution_from_approval(desk):
    with time_machine.travel(berlin("2024-06-03 10:00"), tick=False) as clock_:
        ticket = open_ticket(desk, requester=desk.member)
        sync(ticket)
        assert states(ticket) == {("first_response", "running")}

        clock_.move_to(berlin("2024-06-04 09:00"))
        ticket_transition(ticket=ticket, name="approve", actor=desk.representative)
        sync(ticket)

    assert clock(ticket, "first_response").due_at == berlin("2024-06-03 14:00")
    resolution = clock(ticket, "resolution")
    assert (resolution.started_at, resolution.due_at) == (
        berlin("2024-06-04 09:00"), berlin("2024-06-06 17:00"),
    )  # fmt: skip


def test_only_a_public_staff_reply_meets_first_response(desk):
    with time_machine.travel(berlin("2024-06-03 10:00"), tick=False) as clock_:
        ticket = open_ticket(desk)
        clock_.move_to(berlin("2024-06-03 10:10"))
        message_add(ticket=ticket, author=desk.agent, body="Looking", kind="internal")
        clock_.move_to(berlin("2024-06-03 10:20"))
        message_add(ticket=ticket, author=desk.representative, body="Any news?")
        sync(ticket)
        assert clock(ticket, "first_response").state == "running"

        clock_.move_to(berlin("2024-06-03 11:00"))
        message_add(ticket=ticket, author=desk.agent, body="We are on it.")
        sync(ticket)

    first = clock(ticket, "first_response")
    assert (first.state, first.met_at, first.used_seconds) == (
        "met", berlin("2024-06-03 11:00"), 3600,
    )  # fmt: skip
    assert first.events.get(kind="met").data == {
        "by": "public reply", "in_time": True, "used_seconds": 3600,
    }  # fmt: skip
    # The customer's follow-up came before the first response, which answered it.
    assert not SLATarget.objects.filter(ticket=ticket, metric="next_update").exists()


def test_next_update_runs_from_the_customers_oldest_unanswered_message(desk):
    with time_machine.travel(berlin("2024-06-03 10:00"), tick=False) as clock_:
        ticket = open_ticket(desk)
        clock_.move_to(berlin("2024-06-03 10:30"))
        message_add(ticket=ticket, author=desk.agent, body="Which hub?")
        clock_.move_to(berlin("2024-06-03 11:00"))
        message_add(
            ticket=ticket, author=desk.representative, body="The main one.", channel="email"
        )
        clock_.move_to(berlin("2024-06-03 11:30"))
        message_add(ticket=ticket, author=desk.representative, body="Also on the test hub.")
        sync(ticket)

        update = clock(ticket, "next_update")
        assert (update.state, update.started_at, update.due_at) == (
            "running", berlin("2024-06-03 11:00"), berlin("2024-06-04 11:00"),
        )  # fmt: skip

        clock_.move_to(berlin("2024-06-03 15:00"))
        message_add(ticket=ticket, author=desk.agent, body="Fixed the proxy; please retry.")
        clock_.move_to(berlin("2024-06-03 16:00"))
        message_add(ticket=ticket, author=desk.representative, body="Still slow.")
        sync(ticket)

    updates = list(SLATarget.objects.filter(ticket=ticket, metric="next_update").order_by("id"))
    assert [(u.state, u.started_at, u.met_at) for u in updates] == [
        ("met", berlin("2024-06-03 11:00"), berlin("2024-06-03 15:00")),
        ("running", berlin("2024-06-03 16:00"), None),
    ]
    assert updates[1].due_at == berlin("2024-06-04 16:00")


def test_waiting_on_the_customer_pauses_next_update_and_resolution_but_not_first_response(desk):
    with time_machine.travel(berlin("2024-06-03 10:00"), tick=False) as clock_:
        ticket = open_ticket(desk)
        clock_.move_to(berlin("2024-06-03 11:00"))
        ticket_transition(ticket=ticket, name="wait_on_customer", actor=desk.agent)
        sync(ticket)
        assert states(ticket) == {("first_response", "running"), ("resolution", "paused")}
        clock_.move_to(berlin("2024-06-03 11:30"))
        ticket_transition(ticket=ticket, name="resume", actor=desk.agent)
        message_add(ticket=ticket, author=desk.agent, body="Can you send the logs?")
        clock_.move_to(berlin("2024-06-03 12:00"))
        ticket_transition(ticket=ticket, name="wait_on_customer", actor=desk.agent)
        sync(ticket)
        assert states(ticket) == {("first_response", "met"), ("resolution", "paused")}

        # The customer answers the next day at noon: 8 business hours later.
        clock_.move_to(berlin("2024-06-04 12:00"))
        message_add(ticket=ticket, author=desk.representative, body="Here are the logs.")
        sync(ticket)

    # Paused 30 min, then 8 business hours (Monday 12:00-17:00, Tuesday 09:00-12:00).
    resolution = clock(ticket, "resolution")
    assert (resolution.state, resolution.paused_seconds, resolution.due_at) == (
        "running", int(8.5 * 3600), berlin("2024-06-07 10:30"),
    )  # fmt: skip
    assert parse_pauses(resolution.pauses) == [
        (berlin("2024-06-03 11:00"), berlin("2024-06-03 11:30")),
        (berlin("2024-06-03 12:00"), berlin("2024-06-04 12:00")),
    ]
    assert history(resolution) == ["armed", "paused", "resumed", "paused", "resumed"]
    # The reply and the status change it caused are one change: no empty pause.
    update = clock(ticket, "next_update")
    assert (update.state, update.started_at, history(update)) == (
        "running", berlin("2024-06-04 12:00"), ["armed"],
    )  # fmt: skip


def test_pending_planned_work_pauses_only_when_the_policy_says_so(desk):
    sla_policy_update(policy=desk.policy, data={"pause_when_pending": False})
    with time_machine.travel(berlin("2024-06-03 10:00"), tick=False) as clock_:
        ticket = open_ticket(desk, kind="workshop_request")
        clock_.move_to(berlin("2024-06-03 11:00"))
        ticket_transition(ticket=ticket, name="start_work", actor=desk.agent)
        ticket_transition(ticket=ticket, name="plan", actor=desk.agent)
        sync(ticket)
    assert clock(ticket, "resolution").state == "running"

    other = SLAPolicyFactory.create(name="Workshops", kind="workshop_request", position=0)
    with time_machine.travel(berlin("2024-06-03 10:00"), tick=False) as clock_:
        planned = open_ticket(desk, kind="workshop_request")
        clock_.move_to(berlin("2024-06-03 11:00"))
        ticket_transition(ticket=planned, name="start_work", actor=desk.agent)
        ticket_transition(ticket=planned, name="plan", actor=desk.agent)
        sync(planned)
    assert clock(planned, "resolution").policy == other
    assert clock(planned, "resolution").state == "paused"


def test_resolving_meets_the_clocks_and_reopening_resumes_resolution_with_the_time_used(desk):
    with time_machine.travel(berlin("2024-06-03 10:00"), tick=False) as clock_:
        ticket = open_ticket(desk)
        clock_.move_to(berlin("2024-06-03 11:00"))
        message_add(ticket=ticket, author=desk.agent, body="Restarted the proxy.")
        ticket_transition(ticket=ticket, name="resolve", actor=desk.agent)
        sync(ticket)
        resolution = clock(ticket, "resolution")
        assert (resolution.state, resolution.met_at, resolution.used_seconds) == (
            "met", berlin("2024-06-03 11:00"), 3600,
        )  # fmt: skip

        # Reopened two days later: one business hour was used, 23 are left.
        clock_.move_to(berlin("2024-06-05 09:00"))
        ticket_transition(ticket=ticket, name="reopen", actor=desk.representative)
        sync(ticket)

    resolution.refresh_from_db()
    assert (resolution.state, resolution.met_at, resolution.due_at) == (
        "running", None, berlin("2024-06-07 16:00"),
    )  # fmt: skip
    assert history(resolution) == ["armed", "met", "reopened"]
    assert SLATarget.objects.filter(ticket=ticket, metric="resolution").count() == 1


def test_a_representatives_reply_to_a_resolved_ticket_reopens_it_and_asks_for_an_update(desk):
    with time_machine.travel(berlin("2024-06-03 10:00"), tick=False) as clock_:
        ticket = open_ticket(desk)
        message_add(ticket=ticket, author=desk.agent, body="Done.")
        ticket_transition(ticket=ticket, name="resolve", actor=desk.agent)
        clock_.move_to(berlin("2024-06-04 10:00"))
        message_add(ticket=ticket, author=desk.representative, body="It broke again.")
        sync(ticket)

    assert states(ticket) >= {("resolution", "running"), ("next_update", "running")}
    update = clock(ticket, "next_update")
    assert (update.started_at, update.due_at) == (
        berlin("2024-06-04 10:00"), berlin("2024-06-05 10:00"),
    )  # fmt: skip


def test_a_merged_ticket_has_its_clocks_cancelled(desk):
    with time_machine.travel(berlin("2024-06-03 10:00"), tick=False):
        duplicate = open_ticket(desk)
        original = open_ticket(desk)
        ticket_merge(source=duplicate, target=original, actor=desk.agent)
        sync(duplicate)
        sync(original)

    assert states(duplicate) == {("first_response", "cancelled"), ("resolution", "cancelled")}
    assert clock(duplicate, "resolution").events.get(kind="cancelled").data == {
        "reason": "ticket merged"
    }
    assert states(original) == {("first_response", "running"), ("resolution", "running")}


def test_a_declined_request_has_its_clock_cancelled(desk):
    ticket = open_ticket(desk, requester=desk.member)
    ticket_transition(ticket=ticket, name="decline", actor=desk.representative, note="Not ours")
    sync(ticket)
    assert states(ticket) == {("first_response", "cancelled")}


def test_a_severity_change_recomputes_from_the_original_start_with_an_audit_entry(desk):
    SLAPolicyFactory.create(
        name="Critical 24/7", severity="critical", position=0, first_response_minutes=15,
        first_response_business=False, resolution_minutes=240, resolution_business=False,
    )  # fmt: skip
    with time_machine.travel(berlin("2024-06-03 16:00"), tick=False) as clock_:
        ticket = open_ticket(desk)
        clock_.move_to(berlin("2024-06-03 16:05"))
        ticket_update(ticket=ticket, actor=desk.agent, data={"severity": "critical"},
                      reason="Everyone is locked out")  # fmt: skip
        sync(ticket)

    first = clock(ticket, "first_response")
    assert (first.started_at, first.due_at, first.target_minutes, first.business) == (
        berlin("2024-06-03 16:00"), berlin("2024-06-03 16:15"), 15, False,
    )  # fmt: skip
    assert clock(ticket, "resolution").due_at == berlin("2024-06-03 20:00")
    recomputed = first.events.get(kind="recomputed")
    assert (recomputed.at, recomputed.actor, recomputed.data) == (
        berlin("2024-06-03 16:05"),
        desk.agent,
        {
            "reason": "severity changed from medium to critical",
            "before": {"policy": "Everything", "minutes": 240, "business": True,
                       "due_at": "2024-06-04T10:00:00+00:00"},
            "after": {"policy": "Critical 24/7", "minutes": 15, "business": False,
                      "due_at": "2024-06-03T14:15:00+00:00"},
        },
    )  # fmt: skip
    assert str(TicketSLA.objects.get(ticket=ticket).policy) == "Critical 24/7"


def test_a_severity_set_before_the_clocks_first_ran_is_applied_from_the_opening(desk):
    SLAPolicyFactory.create(name="High", severity="high", position=0, first_response_minutes=60)
    with time_machine.travel(berlin("2024-06-03 10:00"), tick=False) as clock_:
        ticket = open_ticket(desk, severity="low")
        clock_.move_to(berlin("2024-06-03 10:30"))
        ticket_update(ticket=ticket, actor=desk.agent, data={"severity": "high"})
        sync(ticket)  # the reaction to the opening ran late: it sees both entries

    first = clock(ticket, "first_response")
    assert (first.severity, first.target_minutes, first.due_at) == (
        "high", 60, berlin("2024-06-03 11:00"),
    )  # fmt: skip
    assert history(first) == ["armed", "recomputed"]
    assert first.events.get(kind="armed").data["minutes"] == 240


def test_a_new_policy_without_a_target_cancels_that_clock(desk):
    SLAPolicyFactory.create(name="Questions: resolution only", kind="guidance_request",
                            position=0, first_response_minutes=None, next_update_minutes=None)  # fmt: skip
    ticket = open_ticket(desk)
    sync(ticket)
    ticket_update(ticket=ticket, actor=desk.agent, data={"kind": "guidance_request"})
    sync(ticket)
    assert states(ticket) == {("first_response", "cancelled"), ("resolution", "running")}


def test_a_plan_change_recomputes_at_the_tickets_next_event(desk):
    premium = ServicePlanFactory.create(name="Premium")
    SLAPolicyFactory.create(name="Premium", service_plan=premium, position=0,
                            first_response_minutes=60)  # fmt: skip
    with time_machine.travel(berlin("2024-06-03 10:00"), tick=False) as clock_:
        ticket = open_ticket(desk)
        sync(ticket)
        clock_.move_to(berlin("2024-06-03 10:20"))
        community_update(community=desk.community, data={"service_plan": premium})
        message_add(ticket=ticket, author=desk.agent, body="noted", kind="internal")
        sync(ticket)

    first = clock(ticket, "first_response")
    assert (first.due_at, first.plan) == (berlin("2024-06-03 11:00"), premium)
    assert first.events.get(kind="recomputed").data["reason"] == (
        f"the community's plan changed from {desk.plan} to Premium"
    )


def test_recomputing_on_request_matches_the_policy_again(desk):
    ticket = open_ticket(desk)
    sync(ticket)
    SLAPolicyFactory.create(name="Faster", position=0, first_response_minutes=30)
    assert ticket_clocks_recompute(ticket_id=ticket.pk, reason="new policy", actor=desk.agent) == 2
    assert clock(ticket, "first_response").target_minutes == 30


@pytest.mark.parametrize("batched", [False, True])
def test_deliveries_twice_and_out_of_order_change_nothing(desk, batched):
    with time_machine.travel(berlin("2024-06-03 10:00"), tick=False) as clock_:
        ticket = open_ticket(desk)
        clock_.move_to(berlin("2024-06-03 11:00"))
        message_add(ticket=ticket, author=desk.agent, body="Hello")
        clock_.move_to(berlin("2024-06-03 12:00"))
        ticket_transition(ticket=ticket, name="wait_on_customer", actor=desk.agent)
    deliveries = list(
        EventDelivery.objects.filter(
            event__payload__ticket_id=ticket.pk, handler="slas.handlers.sync_ticket_clocks"
        ).order_by("-pk")
    )
    assert [d.event.name for d in deliveries] == [
        "ticket.status_changed", "ticket.message_added", "ticket.opened",
    ]  # fmt: skip

    # One by one (no batches), or the newest taking the others along in one batch.
    with mock.patch.object(outbox, "_batches", wraps=outbox._batches if batched else dict):
        ran = [outbox.delivery_run(delivery_id=d.pk) for d in deliveries]  # newest first
    assert ran == ([True, False, False] if batched else [True, True, True])
    assert sync(ticket) == 0
    assert states(ticket) == {("first_response", "met"), ("resolution", "paused")}
    assert ClockEvent.objects.filter(ticket=ticket).count() == 4  # armed x2, met, paused


def test_a_wall_clock_target_counts_around_the_clock(desk):
    SLAPolicyFactory.create(name="Critical", severity="critical", position=0,
                            first_response_minutes=60, first_response_business=False)  # fmt: skip
    with time_machine.travel(berlin("2024-06-08 03:00"), tick=False):  # a Saturday night
        ticket = open_ticket(desk, severity="critical")
        sync(ticket)
    first = clock(ticket, "first_response")
    assert (first.due_at, first.warn_at) == (berlin("2024-06-08 04:00"), None)


def test_a_warning_waits_for_working_hours_unless_the_policy_notifies_around_the_clock(desk):
    policy = SLAPolicyFactory.create(name="Critical", severity="critical", position=0,
                                     first_response_minutes=600, first_response_business=False)  # fmt: skip
    with time_machine.travel(berlin("2024-06-03 16:00"), tick=False):
        quiet = open_ticket(desk, severity="critical")
        sync(quiet)
    # 75 % of 10 h is 23:30, outside working hours: the notice waits until 09:00, after the
    # due time (02:00), so the breach says it.
    assert (clock(quiet, "first_response").due_at, clock(quiet, "first_response").warn_at) == (
        berlin("2024-06-04 02:00"), None,
    )  # fmt: skip

    sla_policy_update(policy=policy, data={"notify_around_the_clock": True})
    with time_machine.travel(berlin("2024-06-03 16:00"), tick=False):
        loud = open_ticket(desk, severity="critical")
        sync(loud)
    assert clock(loud, "first_response").warn_at == berlin("2024-06-03 23:30")


def test_a_warning_can_be_minutes_before_the_due_time(desk):
    sla_policy_update(policy=desk.policy, data={"warn_percent": None, "warn_minutes_before": 30})
    with time_machine.travel(berlin("2024-06-03 10:00"), tick=False):
        ticket = open_ticket(desk)
        sync(ticket)
    assert clock(ticket, "first_response").warn_at == berlin("2024-06-03 13:30")


def test_editing_a_policy_never_moves_running_clocks(desk):
    with time_machine.travel(berlin("2024-06-03 10:00"), tick=False):
        ticket = open_ticket(desk)
        sync(ticket)
    sla_policy_update(policy=desk.policy, data={"first_response_minutes": 30})
    assert clock(ticket, "first_response").due_at == berlin("2024-06-03 14:00")


def test_switching_a_policy_off_cancels_its_clocks(desk):
    ticket = open_ticket(desk)
    sync(ticket)
    sla_policy_update(policy=desk.policy, data={"active": False}, actor=desk.agent)

    assert states(ticket) == {("first_response", "cancelled"), ("resolution", "cancelled")}
    cancelled = clock(ticket, "resolution").events.get(kind="cancelled")
    assert (cancelled.actor, cancelled.data) == (
        desk.agent, {"reason": "policy “Everything” switched off"},
    )  # fmt: skip
    sla = TicketSLA.objects.get(ticket=ticket)
    assert sla.policy is None
    message_add(ticket=ticket, author=desk.agent, body="Hello")
    message_add(ticket=ticket, author=desk.representative, body="Hi")
    sync(ticket)
    assert states(ticket) == {("first_response", "cancelled"), ("resolution", "cancelled")}


def test_the_first_matching_policy_in_order_applies(desk):
    plan = desk.plan
    SLAPolicyFactory.create(
        name="Plan, critical", service_plan=plan, severity="critical", position=1
    )
    SLAPolicyFactory.create(name="Plan, any severity", service_plan=plan, position=2)
    SLAPolicyFactory.create(name="Switched off", position=0, active=False)
    sla_policy_update(policy=desk.policy, data={"position": 3})

    ticket = open_ticket(desk, severity="critical")
    low = open_ticket(desk, severity="low")
    sync(ticket)
    sync(low)

    assert str(TicketSLA.objects.get(ticket=ticket).policy) == "Plan, critical"
    assert TicketSLA.objects.get(ticket=low).match_reason.startswith(
        f"“Plan, any severity” is the first matching policy (number 2 in order): plan is {plan}, "
        "any severity, any kind, any community."
    )


def test_no_matching_policy_means_no_clocks(desk):
    sla_policy_update(policy=desk.policy, data={"severity": "critical"})
    ticket = open_ticket(desk, severity="low")
    sync(ticket)
    assert not SLATarget.objects.filter(ticket=ticket).exists()
    assert TicketSLA.objects.get(ticket=ticket).match_reason.startswith(
        f"No active policy matches plan {desk.plan}, severity Low (P4), kind Question, "
        f"community {desk.community}."
    )


def test_a_communitys_calendar_overrides_its_plans(desk):
    weekdays = BusinessCalendarFactory.create(name="Working day", time_zone="UTC",
                                              hours=FULL_WEEKDAYS)  # fmt: skip
    community_calendar_set(community=desk.community, calendar=weekdays)
    with time_machine.travel(berlin("2024-06-07 20:00"), tick=False):  # Friday evening
        ticket = open_ticket(desk)
        sync(ticket)
    first = clock(ticket, "first_response")
    # Friday 18:00-24:00 UTC is 6 working hours: 4 h are used by 22:00 UTC (midnight Berlin).
    assert (first.calendar, first.due_at) == (weekdays, berlin("2024-06-08 00:00"))


def test_a_reply_from_an_agent_who_is_the_requester_is_a_customer_message(desk):
    agent_member = AgentFactory.create()
    MembershipFactory.create(community=desk.community, user=agent_member, role="representative")
    ticket = open_ticket(desk, requester=agent_member)
    message_add(ticket=ticket, author=agent_member, body="more detail")
    sync(ticket)
    assert clock(ticket, "first_response").state == "running"


def test_a_resolved_clock_remembers_it_was_late(desk):
    with time_machine.travel(berlin("2024-06-03 10:00"), tick=False) as clock_:
        ticket = open_ticket(desk)
        sync(ticket)
        clock_.shift(timedelta(hours=5))  # 15:00, after the 14:00 due time
        message_add(ticket=ticket, author=desk.agent, body="Sorry for the wait.")
        sync(ticket)
    first = clock(ticket, "first_response")
    assert first.events.get(kind="met").data == {
        "by": "public reply", "in_time": False, "used_seconds": 5 * 3600,
    }  # fmt: skip


def test_a_clocks_history_names_its_clocks_ticket_and_goes_with_the_ticket(desk):
    """ClockEvent.ticket has no foreign-key constraint of its own: it is always the clock's
    ticket, and deleting the ticket deletes the history with the clocks."""
    with time_machine.travel(berlin("2024-06-03 10:00"), tick=False) as clock_:
        ticket = open_ticket(desk)
        sync(ticket)
        clock_.move_to(berlin("2024-06-03 14:00:01"))
        assert sla_sweep().breached == 1
    assert ClockEvent.objects.filter(ticket=ticket).count() == 3  # armed x2, breached
    assert not ClockEvent.objects.exclude(ticket_id=F("target__ticket_id")).exists()

    ticket.delete()

    assert not SLATarget.objects.exists()
    assert not ClockEvent.objects.exists()


def test_a_ticket_has_one_active_clock_per_metric_and_any_number_of_past_ones(desk):
    with time_machine.travel(berlin("2024-06-03 10:00"), tick=False):
        ticket = open_ticket(desk)
        sync(ticket)
    first = clock(ticket, "first_response")
    first_fields = {f.attname: getattr(first, f.attname) for f in SLATarget._meta.concrete_fields}
    first_fields.pop("id")

    def another(state: str, **changes) -> SLATarget:
        return SLATarget(**(first_fields | {"state": state} | changes))

    for state, when in (("running", {}), ("paused", {"paused_since": first.started_at}),
                        ("breached", {"breached_at": first.due_at})):  # fmt: skip
        with pytest.raises(ValidationError, match="already has an active clock"):
            another(state, **when).validate_constraints()
        with pytest.raises(IntegrityError), transaction.atomic():
            another(state, **when).save()
    ended = [
        another("met", met_at=first.due_at),
        another("met", met_at=first.due_at),
        another("cancelled", cancelled_at=first.due_at),
    ]
    for target in ended:
        target.validate_constraints()
        target.save()

    assert SLATarget.objects.filter(ticket=ticket, metric="first_response").count() == 4
    # The constraint's index (ticket first) serves every lookup by ticket.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = SLATarget.objects.filter(ticket=ticket).explain()
    assert "one_active_sla_target_per_metric" in plan, plan
