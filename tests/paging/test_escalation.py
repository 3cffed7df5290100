"""The escalation engine with frozen time: seed 002's chain (primary, after 5 minutes the
backup, after 10 the team lead), acknowledgement, repeats, silence, the fallback."""

from __future__ import annotations

import pytest

from incidents.notify.models import Delivery, DeliveryStatus, Notification
from incidents.paging.models import Page, PageEvent, PageState, Via
from incidents.paging.services.engine import page_advance
from incidents.paging.services.pages import (
    page_acknowledge,
    page_resolve,
    page_silence,
    page_unacknowledge,
)
from tests.paging.conftest import (
    T0,
    committed,
    critical_ticket,
    minutes,
    publish_critical,
    who,
)

pytestmark = pytest.mark.django_db


def the_page() -> Page:
    return Page.objects.get()


def run_due(page: Page) -> int:
    """What the task scheduled at the end of a wait (or the sweeper's) runs."""
    with committed():
        return page_advance(page_id=page.pk)


def kinds(page: Page) -> list[str]:
    return list(
        PageEvent.objects.filter(page=page).order_by("at", "id").values_list("kind", flat=True)
    )


def test_a_critical_ticket_pages_the_primary_at_once(oncall, at_t0, dispatched):
    ticket = critical_ticket()

    publish_critical(ticket)

    page = the_page()
    assert (page.cause, page.state, page.ticket_id, page.dedup_key) == (
        "critical_ticket", "triggered", ticket.pk, f"ticket:{ticket.pk}:critical",
    )  # fmt: skip
    assert (page.policy_id, page.step_index, page.repeat) == (oncall.policy.pk, 2, 0)
    assert page.next_escalation_at == T0 + minutes(5)
    assert who(page) == ["alice"]
    notification = Notification.objects.get(source="page")
    assert notification.key == f"page:{page.pk}:step:0:repeat:0:user:{oncall.alice.pk}"
    assert notification.importance == "important"
    assert notification.source_id == page.pk
    assert set(notification.links) == {"Acknowledge", "Resolve"}
    assert "/page-links/" in notification.links["Acknowledge"]
    # The end of the wait is a task with that eta.
    assert dispatched.scheduled == [(page.pk, T0 + minutes(5))]
    assert kinds(page) == ["triggered", "notified", "waiting"]


def test_no_acknowledgement_in_5_minutes_pages_the_backup_and_in_10_the_team_lead(
    oncall, at_t0, dispatched
):
    publish_critical(critical_ticket())
    page = the_page()

    at_t0.shift(minutes(4))
    assert run_due(page) == 0  # not due yet: a task that comes early changes nothing
    assert who(page) == ["alice"]

    at_t0.shift(minutes(1))  # T0 + 5
    assert run_due(page) == 2  # notify the backup, then wait again
    assert who(page) == ["alice", "carol"]
    assert run_due(page) == 0  # the same task delivered twice
    assert who(page) == ["alice", "carol"]

    at_t0.shift(minutes(5))  # T0 + 10
    run_due(page)
    assert who(page) == ["alice", "carol", "lena"]
    page.refresh_from_db()
    assert page.next_escalation_at == T0 + minutes(20)
    assert [eta for _, eta in dispatched.scheduled] == [
        T0 + minutes(5), T0 + minutes(10), T0 + minutes(20),
    ]  # fmt: skip
    lead = Notification.objects.get(recipient=oncall.lena)
    assert lead.importance == "default"


def test_acknowledgement_stops_the_escalation_and_cancels_pending_deliveries(oncall, at_t0):
    publish_critical(critical_ticket())
    page = the_page()
    later = Delivery.objects.filter(notification__source_id=page.pk).first()
    assert later is not None
    Delivery.objects.filter(pk=later.pk).update(status=DeliveryStatus.PENDING)

    at_t0.shift(minutes(3))
    page = page_acknowledge(page=page, actor=oncall.alice, via=Via.LINK)

    assert (page.state, page.acknowledged_by, page.acknowledged_at) == (
        "acknowledged", oncall.alice, T0 + minutes(3),
    )  # fmt: skip
    assert page.next_escalation_at is None
    assert Delivery.objects.get(pk=later.pk).status == DeliveryStatus.CANCELLED
    event = PageEvent.objects.filter(page=page, kind="acknowledged").get()
    assert (event.actor, event.via) == (oncall.alice, "link")
    for step in (5, 10, 30, 60):
        at_t0.move_to(T0 + minutes(step))
        assert run_due(page) == 0
    assert who(page) == ["alice"]

    # Idempotent: acknowledging again records nothing more.
    page_acknowledge(page=page, actor=oncall.carol, via=Via.API)
    assert PageEvent.objects.filter(page=page, kind="acknowledged").count() == 1
    assert the_page().acknowledged_by == oncall.alice


def test_unacknowledge_puts_the_page_back_at_its_current_step(oncall, at_t0, dispatched):
    publish_critical(critical_ticket())
    page = the_page()
    at_t0.shift(minutes(2))
    page_acknowledge(page=page, actor=oncall.alice, via=Via.DESK)

    at_t0.shift(minutes(1))
    with committed():
        page = page_unacknowledge(page=page, actor=oncall.alice, via=Via.DESK)

    assert (page.state, page.acknowledged_by, page.step_index) == ("triggered", None, 2)
    assert page.next_escalation_at == T0 + minutes(3)
    assert dispatched.scheduled[-1] == (page.pk, None)
    run_due(page)  # the backup now: the escalation goes on from where it stood
    assert who(page) == ["alice", "carol"]
    assert the_page().next_escalation_at == T0 + minutes(8)
    assert page_unacknowledge(page=page, actor=oncall.alice, via=Via.DESK).state == "triggered"
    assert PageEvent.objects.filter(page=page, kind="unacknowledged").count() == 1


def test_the_chain_repeats_then_notifies_the_fallback_once(oncall, at_t0):
    publish_critical(critical_ticket())
    page = the_page()
    expected = {
        5: ["carol"], 10: ["lena"], 20: ["alice"], 25: ["carol"], 30: ["lena"], 40: ["mark"],
    }  # fmt: skip
    seen = 1
    for at, people in expected.items():
        at_t0.move_to(T0 + minutes(at))
        run_due(page)
        assert who(page)[seen:] == people, at
        seen += len(people)

    page.refresh_from_db()
    assert (page.repeat, page.escalation_done, page.next_escalation_at) == (1, True, None)
    keys = [n.key for n in Notification.objects.filter(source="page").order_by("id")]
    assert keys[3] == f"page:{page.pk}:step:0:repeat:1:user:{oncall.alice.pk}"
    assert keys[-1] == f"page:{page.pk}:fallback:user:{oncall.mark.pk}"
    assert Notification.objects.get(recipient=oncall.mark).importance == "important"
    at_t0.move_to(T0 + minutes(120))
    assert run_due(page) == 0
    assert len(who(page)) == 7
    assert kinds(page).count("repeated") == 1
    assert kinds(page).count("fallback") == 1
    assert the_page().state == "triggered"  # still open: someone has to look at it


def test_silence_delays_the_next_step(oncall, at_t0, dispatched):
    publish_critical(critical_ticket())
    page = the_page()

    at_t0.shift(minutes(2))
    with committed():
        page = page_silence(page=page, minutes=15, actor=oncall.alice, via=Via.API)

    assert page.silenced_until == T0 + minutes(17)
    assert page.next_escalation_at == T0 + minutes(17)
    assert dispatched.scheduled[-1] == (page.pk, T0 + minutes(17))
    at_t0.move_to(T0 + minutes(5))
    assert run_due(page) == 0  # the task scheduled for the end of the wait finds it silenced
    at_t0.move_to(T0 + minutes(16))
    assert run_due(page) == 0
    assert who(page) == ["alice"]
    at_t0.move_to(T0 + minutes(17))
    run_due(page)
    assert who(page) == ["alice", "carol"]
    event = PageEvent.objects.get(page=page, kind="silenced")
    assert (event.actor, event.via, event.detail["minutes"]) == (oncall.alice, "api", 15)


def test_a_silence_shorter_than_the_wait_changes_nothing(oncall, at_t0):
    publish_critical(critical_ticket())
    at_t0.shift(minutes(1))
    page = page_silence(page=the_page(), minutes=2, actor=None, via=Via.API)
    assert page.next_escalation_at == T0 + minutes(5)


@pytest.mark.parametrize("minutes_", [0, -5, 1441, "10"])
def test_silence_refuses_a_length_out_of_range(oncall, at_t0, minutes_):
    from core.errors import ApplicationError

    publish_critical(critical_ticket())
    with pytest.raises(ApplicationError) as error:
        page_silence(page=the_page(), minutes=minutes_, actor=None, via=Via.API)
    assert (error.value.field, error.value.code) == ("minutes", "out_of_range")
    assert the_page().silenced_until is None


def test_resolve_closes_and_is_idempotent(oncall, at_t0):
    publish_critical(critical_ticket())
    page = the_page()
    at_t0.shift(minutes(1))

    page = page_resolve(page=page, actor=oncall.alice, via=Via.EMAIL)
    again = page_resolve(page=page, actor=oncall.bob, via=Via.API)

    assert (again.state, again.resolved_by, again.resolved_at) == (
        "resolved", oncall.alice, T0 + minutes(1),
    )  # fmt: skip
    assert PageEvent.objects.filter(page=page, kind="resolved").count() == 1
    at_t0.move_to(T0 + minutes(30))
    assert run_due(page) == 0
    assert who(page) == ["alice"]


def test_a_resolved_page_cannot_be_acknowledged_or_silenced(oncall, at_t0):
    from incidents.paging.errors import PageResolved

    publish_critical(critical_ticket())
    page = page_resolve(page=the_page(), actor=None, via=Via.API)
    for action in (
        lambda: page_acknowledge(page=page, actor=oncall.alice, via=Via.API),
        lambda: page_unacknowledge(page=page, actor=oncall.alice, via=Via.API),
        lambda: page_silence(page=page, minutes=5, actor=oncall.alice, via=Via.API),
    ):
        with pytest.raises(PageResolved):
            action()
    assert the_page().state == PageState.RESOLVED
    assert kinds(page) == ["triggered", "notified", "waiting", "resolved"]
