"""Triggers: deduplication (also under a race), maintenance windows, routes by cause,
severity and community, SLA breaches, incidents."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from core import outbox
from core.errors import ApplicationError
from core.models import EventDelivery
from incidents.notify.models import Notification
from incidents.paging.handlers import page_sla_breach
from incidents.paging.models import CauseKind, Page, PageEvent, PolicyRoute, Via
from incidents.paging.services.pages import (
    maintenance_window_create,
    open_page_for_incident,
    page_resolve,
    page_trigger,
    trigger_page,
)
from incidents.paging.services.policies import policy_create, policy_for
from tests.communities.factories import CommunityFactory
from tests.core.factories import AgentFactory
from tests.paging.conftest import T0, critical_ticket, minutes, publish_critical, who
from tests.tickets.factories import TicketFactory

pytestmark = pytest.mark.django_db


def test_a_second_trigger_with_the_same_key_attaches_and_notifies_nobody(oncall, at_t0):
    ticket = critical_ticket()
    publish_critical(ticket)
    at_t0.shift(minutes(1))

    publish_critical(ticket)  # routing found it critical again

    page = Page.objects.get()
    assert (page.trigger_count, page.last_triggered_at) == (2, T0 + minutes(1))
    assert who(page) == ["alice"]
    assert PageEvent.objects.filter(page=page, kind="retriggered").count() == 1
    assert Page.objects.count() == 1


def test_a_trigger_after_the_page_is_resolved_opens_a_new_page(oncall, at_t0):
    ticket = critical_ticket()
    publish_critical(ticket)
    page_resolve(page=Page.objects.get(), actor=oncall.alice, via=Via.DESK)

    publish_critical(ticket)

    first, second = Page.objects.order_by("id")
    assert (first.state, second.state, second.trigger_count) == ("resolved", "triggered", 1)
    assert who(second) == ["alice"]


@pytest.mark.django_db(transaction=True)
def test_two_triggers_at_once_make_one_page(oncall):
    """Both look, find no open page, insert: the partial unique index lets one in, and the
    other attaches to it."""
    barrier = threading.Barrier(2)
    results: list[tuple[int, bool]] = []
    errors: list[BaseException] = []

    def trigger() -> None:
        try:
            barrier.wait(timeout=10)
            page, created = page_trigger(
                cause=CauseKind.INTEGRATION, dedup_key="api:disk-full", title="Disk full",
                severity="high", via=Via.API,
            )  # fmt: skip
            results.append((page.pk, created))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=trigger) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert sorted(created for _, created in results) == [False, True]
    assert len({page_id for page_id, _ in results}) == 1
    page = Page.objects.get()
    assert page.trigger_count == 2


def test_a_page_inside_a_maintenance_window_is_recorded_and_notifies_nobody(oncall, at_t0):
    ticket = critical_ticket()
    window = maintenance_window_create(
        community=ticket.community, starts_at=T0 - minutes(30), ends_at=T0 + minutes(30),
        reason="Database upgrade",
    )  # fmt: skip

    publish_critical(ticket)

    page = Page.objects.get()
    assert (page.in_maintenance, page.state, page.next_escalation_at) == (True, "triggered", None)
    assert Notification.objects.count() == 0
    event = PageEvent.objects.get(page=page, kind="maintenance")
    assert (event.detail["window_id"], event.detail["reason"]) == (window.pk, "Database upgrade")
    at_t0.shift(minutes(60))
    from incidents.paging.services.engine import page_advance

    assert page_advance(page_id=page.pk) == 0
    assert Notification.objects.count() == 0


def test_a_maintenance_window_covers_only_its_community_or_service_and_its_time(oncall, at_t0):
    other = CommunityFactory.create()
    maintenance_window_create(community=other, starts_at=T0 - minutes(5), ends_at=T0 + minutes(5))
    maintenance_window_create(service="billing", starts_at=T0 + minutes(1), ends_at=T0 + minutes(9))
    PolicyRoute.objects.create(cause=CauseKind.INTEGRATION, policy=oncall.policy)

    billing, _ = page_trigger(
        cause="integration", dedup_key="a", title="Billing", severity="high", via="api",
        service="billing",
    )  # fmt: skip
    at_t0.shift(minutes(2))
    later, _ = page_trigger(
        cause="integration", dedup_key="b", title="Billing again", severity="high", via="api",
        service="billing",
    )  # fmt: skip
    ours, _ = page_trigger(
        cause="critical_ticket", dedup_key="c", title="Ours", severity="critical", via="api",
        community=CommunityFactory.create(),
    )  # fmt: skip

    assert (billing.in_maintenance, later.in_maintenance, ours.in_maintenance) == (
        False, True, False,
    )  # fmt: skip
    assert who(billing) == ["alice"]
    assert who(later) == []


@pytest.mark.parametrize(
    ("starts", "ends", "community", "service", "field"),
    [
        (0, 0, True, "", "ends_at"),
        (10, 5, True, "", "ends_at"),
        (0, 10, False, "  ", "service"),
    ],
)
def test_a_maintenance_window_that_cannot_be_is_refused(
    db, starts, ends, community, service, field
):
    from incidents.paging.models import MaintenanceWindow

    with pytest.raises(ApplicationError) as error:
        maintenance_window_create(
            community=CommunityFactory.create() if community else None, service=service,
            starts_at=T0 + minutes(starts), ends_at=T0 + minutes(ends),
        )  # fmt: skip
    assert error.value.field == field
    assert MaintenanceWindow.objects.count() == 0


def test_routes_are_tried_in_order_by_cause_severity_and_community(db):
    lead = AgentFactory.create()
    community = CommunityFactory.create()

    def policy(name: str):
        return policy_create(name=name, steps=[{"kind": "notify_users", "users": [lead]}])

    anything, high, theirs = policy("Any breach"), policy("High breach"), policy("Theirs")
    PolicyRoute.objects.create(position=30, cause="sla_breach", policy=anything)
    PolicyRoute.objects.create(position=20, cause="sla_breach", severity="high", policy=high)
    PolicyRoute.objects.create(position=10, cause="sla_breach", community=community, policy=theirs)
    PolicyRoute.objects.create(position=1, cause="sla_breach", policy=theirs, active=False)

    assert policy_for(cause="sla_breach", severity="high", community=None) == high
    assert policy_for(cause="sla_breach", severity="low", community=None) == anything
    assert policy_for(cause="sla_breach", severity="low", community=community) == theirs
    assert policy_for(cause="incident", severity="high", community=community) is None


def test_an_sla_breach_pages_by_the_tickets_severity_and_later_breaches_attach(db, at_t0):
    medium_lead, high_lead = AgentFactory.create(), AgentFactory.create()
    medium = policy_create(name="Medium", steps=[{"kind": "notify_users", "users": [medium_lead]}])
    high = policy_create(name="High", steps=[{"kind": "notify_users", "users": [high_lead]}])
    PolicyRoute.objects.create(cause="sla_breach", severity="medium", policy=medium)
    PolicyRoute.objects.create(cause="sla_breach", severity="high", policy=high)
    ticket = TicketFactory.create(severity="medium")

    for metric in ("first_response", "resolution"):
        event = outbox.publish(
            "sla.breached", community_id=ticket.community_id, ticket_id=ticket.pk,
            target_id=1, metric=metric, due_at=T0.isoformat(), severity="medium", policy_id=None,
        )  # fmt: skip
        assert event is not None
        delivery = EventDelivery.objects.get(
            event=event, handler="incidents.paging.handlers.page_sla_breach"
        )
        assert delivery.queue == "paging"
        assert outbox.delivery_run(delivery_id=delivery.pk)

    page = Page.objects.get()
    assert (page.cause, page.policy, page.severity, page.trigger_count) == (
        "sla_breach", medium, "medium", 2,
    )  # fmt: skip
    assert page.dedup_key == f"ticket:{ticket.pk}:sla"
    assert "first response" in page.title
    assert [n.recipient for n in Notification.objects.all()] == [medium_lead]


def test_a_breach_of_a_ticket_that_is_gone_pages_nobody(db):
    from core.models import Event

    page_sla_breach(event=Event(name="sla.breached", payload={"ticket_id": 999999}))
    assert Page.objects.count() == 0


def test_a_cause_with_no_route_is_recorded_unrouted(db, at_t0):
    page = trigger_page(
        cause="integration", dedup_key="x", title="Nobody routes this", details="",
        severity="low", via=Via.API,
    )  # fmt: skip
    assert (page.policy, page.next_escalation_at, page.escalation_done) == (None, None, True)
    assert list(PageEvent.objects.filter(page=page).values_list("kind", flat=True)) == [
        "triggered", "unrouted",
    ]  # fmt: skip


def test_an_incident_opens_one_page(oncall, at_t0):
    PolicyRoute.objects.create(cause="incident", policy=oncall.policy)
    first = open_page_for_incident(incident_id=7, title="Outage", severity="critical")
    again = open_page_for_incident(incident_id=7, title="Outage", severity="critical")

    assert first.pk == again.pk
    assert (first.cause, first.dedup_key, again.trigger_count) == ("incident", "incident:7", 2)
    assert who(first) == ["alice"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"cause": "weather"}, "cause"),
        ({"severity": "urgent"}, "severity"),
        ({"title": "   "}, "title"),
        ({"dedup_key": ""}, "dedup_key"),
        ({"dedup_key": "k" * 256}, "dedup_key"),
    ],
)
def test_a_trigger_with_bad_input_is_refused(db, changes, field):
    data = {
        "cause": "integration", "dedup_key": "k", "title": "T", "severity": "high", "via": "api",
        **changes,
    }  # fmt: skip
    with pytest.raises(ApplicationError) as error:
        page_trigger(**data)
    assert error.value.field == field
    assert Page.objects.count() == 0
