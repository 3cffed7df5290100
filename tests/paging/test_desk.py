"""The desk's pages: the list (open first), a page with its timeline and notifications, the
actions through the paging services, the figures, and nobody but agents."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
import time_machine

from incidents.notify.models import Delivery, Notification
from incidents.oncall.models import Schedule
from incidents.paging.models import EscalationPolicy, EscalationStep, Page, PageEvent
from tests.communities.factories import MembershipFactory
from tests.core.factories import AgentFactory
from tests.tickets.factories import TicketFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 11, 14, 0, tzinfo=UTC)
_keys = count()


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def agent_user():
    return AgentFactory.create(first_name="Mia", last_name="Chen")


@pytest.fixture
def desk(client, agent_user):
    client.force_login(agent_user)
    return client


@pytest.fixture
def policy():
    primary = Schedule.objects.create(name="Primary")
    policy = EscalationPolicy.objects.create(name="Critical tickets")
    EscalationStep.objects.create(
        policy=policy, position=1, kind="notify_on_call", schedule=primary
    )
    EscalationStep.objects.create(policy=policy, position=2, kind="wait", wait_minutes=5)
    EscalationStep.objects.create(
        policy=policy, position=3, kind="notify_on_call", schedule=primary
    )
    return policy


def make_page(policy=None, *, minutes_ago: int = 10, state: str = "triggered", **fields) -> Page:
    created = NOW - timedelta(minutes=minutes_ago)
    if state == "acknowledged":
        fields.setdefault("acknowledged_at", NOW - timedelta(minutes=1))
    if state == "resolved":
        fields.setdefault("resolved_at", NOW - timedelta(minutes=1))
    if state == "triggered":
        fields.setdefault("next_escalation_at", NOW + timedelta(minutes=4))
    page = Page.objects.create(
        cause=fields.pop("cause", "critical_ticket"),
        dedup_key=f"desk-{next(_keys)}",
        title=fields.pop("title", "JupyterHub down"),
        severity=fields.pop("severity", "critical"),
        policy=policy,
        state=state,
        created_at=created,
        **fields,
    )
    PageEvent.objects.create(page=page, kind="triggered", at=created)
    return page


def rows(response) -> list[int]:
    return [int(pk) for pk in re.findall(r'<tr data-page="(\d+)">', response.content.decode())]


def snapshot() -> list[tuple[object, ...]]:
    return list(
        Page.objects.order_by("pk").values_list(
            "pk", "state", "acknowledged_by", "resolved_at", "silenced_until",
            "next_escalation_at", "updated_at",
        )
    ) + [("events", PageEvent.objects.count())]  # fmt: skip


# ---------------------------------------------------------------- the list


def test_the_list_shows_open_pages_first_triggered_then_acknowledged_newest_first(desk, policy):
    resolved_new = make_page(policy, minutes_ago=1, state="resolved")
    acked_old = make_page(policy, minutes_ago=50, state="acknowledged")
    triggered_old = make_page(policy, minutes_ago=40)
    acked_new = make_page(policy, minutes_ago=5, state="acknowledged")
    triggered_new = make_page(policy, minutes_ago=20)
    resolved_old = make_page(policy, minutes_ago=90, state="resolved")

    response = desk.get("/desk/pages/")

    assert response.status_code == 200
    assert rows(response) == [
        triggered_new.pk, triggered_old.pk, acked_new.pk, acked_old.pk,
        resolved_new.pk, resolved_old.pk,
    ]  # fmt: skip


def test_a_row_says_state_cause_severity_ticket_policy_step_and_who_acknowledged(
    desk, policy, agent_user
):
    ticket = TicketFactory.create()
    triggered = make_page(policy, ticket=ticket, step_index=2, repeat=1)
    acked = make_page(policy, state="acknowledged", acknowledged_by=agent_user, step_index=1)

    html = desk.get("/desk/pages/").content.decode()
    first, second = html.split('<tr data-page="')[1:3]

    assert '<span class="badge badge-page-triggered">Triggered</span>' in first
    assert "<td>Critical ticket</td>" in first
    assert '<span class="badge badge-severity-critical">Critical (P1)</span>' in first
    assert f'<a href="/desk/tickets/{ticket.reference}/">{ticket.reference}</a>' in first
    assert "Critical tickets" in first
    assert "Next: step 3 of 3, notify on call in Primary (repeat 1)" in first
    assert ">in 4 min</time>" in first
    assert f'action="/desk/pages/{triggered.pk}/acknowledge/"' in first
    assert '<span class="badge badge-page-acknowledged">Acknowledged</span>' in second
    assert "Stopped before: step 2 of 3, wait 5 min" in second
    assert "<td>Mia Chen</td>" in second
    assert f'action="/desk/pages/{acked.pk}/acknowledge/"' not in second
    assert f'action="/desk/pages/{acked.pk}/resolve/"' in second


def test_the_list_filters_by_state_and_cause(desk, policy):
    triggered = make_page(policy)
    acked = make_page(policy, state="acknowledged")
    resolved = make_page(policy, state="resolved")
    breach = make_page(policy, cause="sla_breach", severity="medium")

    assert rows(desk.get("/desk/pages/?state=acknowledged")) == [acked.pk]
    assert rows(desk.get("/desk/pages/?state=open")) == [breach.pk, triggered.pk, acked.pk]
    assert rows(desk.get("/desk/pages/?state=resolved")) == [resolved.pk]
    assert rows(desk.get("/desk/pages/?cause=sla_breach")) == [breach.pk]
    # An unknown value filters nothing rather than failing.
    assert len(rows(desk.get("/desk/pages/?state=bogus"))) == 4


def test_the_list_pages_through_without_counting(desk, policy, monkeypatch):
    monkeypatch.setattr("web.desk.views.paging.PAGE_SIZE", 2)
    pages = [make_page(policy, minutes_ago=m) for m in (1, 2, 3, 4, 5)]

    first = desk.get("/desk/pages/?cause=critical_ticket")
    third = desk.get("/desk/pages/?cause=critical_ticket&page=3")

    assert rows(first) == [pages[0].pk, pages[1].pk]
    assert (
        'href="/desk/pages/?cause=critical_ticket&amp;page=2" rel="next"' in first.content.decode()
    )
    assert rows(third) == [pages[4].pk]
    assert 'rel="next"' not in third.content.decode()
    assert (
        'href="/desk/pages/?cause=critical_ticket&amp;page=2" rel="prev"' in third.content.decode()
    )


# session, user, the pages (with policy, ticket, community and who acknowledged or
# resolved), the policies' steps (with their schedules and teams)
LIST_QUERIES = 4


@pytest.mark.parametrize("how_many", [2, 25])
def test_the_list_costs_the_same_queries_however_many_pages(
    desk, policy, how_many, django_assert_num_queries
):
    other = EscalationPolicy.objects.create(name="Other")
    EscalationStep.objects.create(policy=other, position=1, kind="wait", wait_minutes=1)
    for i in range(how_many):
        make_page(policy if i % 2 else other, ticket=TicketFactory.create(),
                  state="acknowledged" if i % 3 else "triggered",
                  acknowledged_by=AgentFactory.create() if i % 3 else None)  # fmt: skip

    with django_assert_num_queries(LIST_QUERIES):
        response = desk.get("/desk/pages/")

    assert len(rows(response)) == how_many


def test_the_table_refreshes_alone_for_htmx(desk, policy):
    page = make_page(policy)

    response = desk.get("/desk/pages/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="pages-table")

    html = response.content.decode()
    assert html.lstrip().startswith('<div id="pages-table"')
    assert "<html" not in html
    assert rows(response) == [page.pk]


def test_the_navigation_counts_open_pages_in_one_query(desk, policy, django_assert_num_queries):
    make_page(policy)
    make_page(policy, state="acknowledged")
    make_page(policy, state="resolved")

    with django_assert_num_queries(3):  # session, user, the count
        response = desk.get("/desk/pages/count/", HTTP_HX_REQUEST="true")

    assert response.content.decode().strip() == '2<span class="visually-hidden"> open</span>'
    assert 'hx-get="/desk/pages/count/"' in desk.get("/desk/").content.decode()


# ---------------------------------------------------------------- a page


def test_a_page_shows_its_timeline_and_its_notifications(desk, policy, agent_user):
    page = make_page(policy, minutes_ago=30)
    PageEvent.objects.create(
        page=page, kind="notified", at=NOW - timedelta(minutes=30),
        detail={"user": "Ravi Iyer", "why": "on call now in Primary", "importance": "important"},
    )  # fmt: skip
    PageEvent.objects.create(
        page=page, kind="waiting", at=NOW - timedelta(minutes=30),
        detail={"until": (NOW - timedelta(minutes=25)).isoformat()},
    )  # fmt: skip
    PageEvent.objects.create(
        page=page, kind="silenced", actor=agent_user, via="desk", at=NOW - timedelta(minutes=2),
        detail={"minutes": 15, "until": (NOW + timedelta(minutes=13)).isoformat()},
    )  # fmt: skip
    ravi = AgentFactory.create(first_name="Ravi", last_name="Iyer")
    notification = Notification.objects.create(
        recipient=ravi, subject="[Critical] JupyterHub down", key="n-1", importance="important",
        source="page", source_id=page.pk, created_at=NOW - timedelta(minutes=30),
    )  # fmt: skip
    Delivery.objects.create(
        notification=notification, step=0, channel="email", address="ravi@example.com",
        status="sent", attempts=1, sent_at=NOW - timedelta(minutes=29), idempotency_key="d-1",
    )  # fmt: skip
    Delivery.objects.create(
        notification=notification, step=1, channel="sms", address="+4915112345678",
        status="cancelled", idempotency_key="d-2",
    )  # fmt: skip
    Notification.objects.create(
        recipient=ravi, subject="Another page", key="n-2", source="page", source_id=page.pk + 1
    )

    response = desk.get(f"/desk/pages/{page.pk}/")

    assert response.status_code == 200
    html = response.content.decode()
    kinds = re.findall(r'<tr data-kind="(\w+)">', html)
    assert kinds == ["triggered", "notified", "waiting", "silenced"]
    assert "Ravi Iyer (on call now in Primary) · important" in html
    assert "until 2026-03-11 13:35 UTC" in html
    assert "15 min, until 2026-03-11 14:13 UTC" in html
    assert "<td>Mia Chen</td>\n            <td>Desk</td>" in html
    assert (
        'Email to ravi@example.com: <span class="badge badge-delivery-sent">Sent</span> · 1 attempt'
        in html
    )
    assert (
        'SMS to +4915112345678: <span class="badge badge-delivery-cancelled">Cancelled</span>'
        in html
    )
    assert html.count("<td>Ravi Iyer</td>") == 1  # not the other page's notification
    assert "Next: step 1 of 3, notify on call in Primary" in html


def test_a_page_that_does_not_exist_is_404(desk):
    assert desk.get("/desk/pages/999999/").status_code == 404


# ---------------------------------------------------------------- actions


def test_acknowledging_stops_the_escalation_and_says_so(desk, policy, agent_user):
    page = make_page(policy)

    response = desk.post(f"/desk/pages/{page.pk}/acknowledge/", follow=True)

    page.refresh_from_db()
    assert (page.state, page.acknowledged_by, page.next_escalation_at) == (
        "acknowledged", agent_user, None,
    )  # fmt: skip
    event = page.events.get(kind="acknowledged")
    assert (event.actor, event.via) == (agent_user, "desk")
    assert response.redirect_chain == [(f"/desk/pages/{page.pk}/", 302)]
    assert f"Acknowledged page {page.pk} (JupyterHub down): its escalation has stopped." in (
        response.content.decode()
    )


def test_acknowledging_from_the_list_goes_back_to_the_same_list(desk, policy):
    page = make_page(policy)

    response = desk.post(f"/desk/pages/{page.pk}/acknowledge/", {"next": "/desk/pages/?state=open"})
    elsewhere = desk.post(f"/desk/pages/{page.pk}/resolve/", {"next": "https://evil.example/"})

    assert response.status_code == 302
    assert response["Location"] == "/desk/pages/?state=open"
    assert elsewhere["Location"] == f"/desk/pages/{page.pk}/"


def test_acknowledging_twice_changes_nothing_the_second_time(desk, policy, agent_user):
    page = make_page(policy, state="acknowledged", acknowledged_by=agent_user)
    before = snapshot()

    response = desk.post(f"/desk/pages/{page.pk}/acknowledge/", follow=True)

    assert snapshot() == before
    assert f"Page {page.pk} (JupyterHub down) was acknowledged already, by Mia Chen." in (
        response.content.decode()
    )


def test_unacknowledging_puts_the_page_back_to_triggered(desk, policy, agent_user):
    page = make_page(policy, state="acknowledged", acknowledged_by=agent_user)

    response = desk.post(
        f"/desk/pages/{page.pk}/unacknowledge/", {"reason": "Handing over"}, follow=True
    )

    page.refresh_from_db()
    assert (page.state, page.acknowledged_by, page.next_escalation_at) == ("triggered", None, NOW)
    assert page.events.get(kind="unacknowledged").detail["reason"] == "Handing over"
    assert "Unacknowledged page" in response.content.decode()


def test_resolving_closes_the_page(desk, policy, agent_user):
    page = make_page(policy)

    response = desk.post(f"/desk/pages/{page.pk}/resolve/", {"reason": "Fixed"}, follow=True)

    page.refresh_from_db()
    assert (page.state, page.resolved_by, page.resolved_at) == ("resolved", agent_user, NOW)
    assert f"Resolved page {page.pk} (JupyterHub down)." in response.content.decode()
    # A resolved page offers no more actions.
    assert f'action="/desk/pages/{page.pk}/resolve/"' not in response.content.decode()


def test_silencing_holds_the_escalation(desk, policy):
    page = make_page(policy)

    response = desk.post(f"/desk/pages/{page.pk}/silence/", {"minutes": "30"}, follow=True)

    page.refresh_from_db()
    assert page.silenced_until == NOW + timedelta(minutes=30)
    assert page.next_escalation_at == NOW + timedelta(minutes=30)
    assert "for 30 min: no escalation before 14:30 UTC." in response.content.decode()


@pytest.mark.parametrize("minutes", ["0", "-5", "abc", "", "100000"])
def test_a_bad_silence_is_refused_beside_its_field_and_changes_nothing(desk, policy, minutes):
    page = make_page(policy)
    before = snapshot()

    response = desk.post(f"/desk/pages/{page.pk}/silence/", {"minutes": minutes})

    assert response.status_code == 400
    assert snapshot() == before
    html = response.content.decode()
    assert re.search(
        r'<small id="silence_minutes_error" class="error" role="alert">[^<]+</small>', html
    )


def test_an_action_the_state_refuses_is_a_409_with_the_reason(desk, policy):
    acked = make_page(policy, state="acknowledged")
    resolved = make_page(policy, state="resolved")
    before = snapshot()

    silenced = desk.post(f"/desk/pages/{acked.pk}/silence/", {"minutes": "10"})
    acknowledged = desk.post(f"/desk/pages/{resolved.pk}/acknowledge/")

    assert (silenced.status_code, acknowledged.status_code) == (409, 409)
    assert snapshot() == before
    assert "Only a triggered page can be silenced" in silenced.content.decode()
    assert "The page is resolved already." in acknowledged.content.decode()


# ---------------------------------------------------------------- who may


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/desk/pages/"),
        ("get", "/desk/pages/{pk}/"),
        ("get", "/desk/pages/count/"),
        ("get", "/desk/pages/figures/"),
        ("post", "/desk/pages/{pk}/acknowledge/"),
        ("post", "/desk/pages/{pk}/unacknowledge/"),
        ("post", "/desk/pages/{pk}/resolve/"),
        ("post", "/desk/pages/{pk}/silence/"),
    ],
)
def test_a_community_member_gets_404_and_nothing_changes(client, community, policy, method, path):
    page = make_page(policy)
    member = MembershipFactory.create(community=community, role="representative").user
    client.force_login(member)
    before = snapshot()

    response = getattr(client, method)(path.format(pk=page.pk), {"minutes": "10"})

    assert response.status_code == 404
    assert snapshot() == before


def test_someone_signed_out_is_sent_to_sign_in_and_nothing_changes(client, policy):
    page = make_page(policy)
    before = snapshot()

    response = client.post(f"/desk/pages/{page.pk}/acknowledge/")

    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next=/desk/pages/{page.pk}/acknowledge/"
    assert snapshot() == before


# ---------------------------------------------------------------- figures


def test_the_figures_page_shows_mean_times_and_pages_per_person(desk, policy):
    page = make_page(policy, minutes_ago=60 * 24, state="resolved",
                     resolved_at=NOW - timedelta(hours=23))  # fmt: skip
    PageEvent.objects.create(
        page=page, kind="acknowledged", at=page.created_at + timedelta(minutes=4)
    )
    ravi = AgentFactory.create(first_name="Ravi", last_name="Iyer")
    Notification.objects.create(
        recipient=ravi, subject="Page", key="fig-1", source="page", source_id=page.pk,
        created_at=page.created_at,
    )  # fmt: skip

    response = desk.get("/desk/pages/figures/?start=2026-03-09&end=2026-03-15&period=week&tz=UTC")

    assert response.status_code == 200
    html = response.content.decode()
    assert re.search(
        r'<tr><th scope="row">Week of 2026-03-09</th><td>1</td><td>1</td><td>4 min</td>'
        r"<td>1</td><td>1 h</td></tr>",
        html,
    )
    assert re.search(r'<th scope="row">Primary</th><td>1</td><td>1</td><td>4 min</td>', html)
    assert re.search(
        rf'<tr data-user="{ravi.pk}"><th scope="row">Ravi Iyer</th>'
        r'<td title="1 notification">1</td><td>1</td></tr>',
        html,
    )


def test_the_figures_page_defaults_to_eight_weeks_in_the_viewers_time_zone(desk, agent_user):
    agent_user.time_zone = "Europe/Berlin"
    agent_user.save()

    html = desk.get("/desk/pages/figures/").content.decode()

    assert "Pages created from 2026-01-15 to 2026-03-11 (Europe/Berlin)." in html


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("start=2026-03-10&end=2026-03-01", "end"),
        ("start=2020-01-01&end=2026-01-01&period=day", "start"),
        ("tz=Nowhere/Special", "tz"),
        ("start=not-a-date", "start"),
    ],
)
def test_the_figures_page_refuses_a_bad_range_beside_its_field(desk, query, field):
    response = desk.get(f"/desk/pages/figures/?{query}")

    assert response.status_code == 400
    assert re.search(
        rf'<small id="figures_{field}_error" class="error" role="alert">[^<]+</small>',
        response.content.decode(),
    )


def test_each_form_of_a_page_has_its_own_field_ids(desk, policy):
    page = make_page(policy, state="acknowledged")

    html = desk.get(f"/desk/pages/{page.pk}/").content.decode()

    ids = re.findall(r' id="([\w-]+)"', html)
    assert "unacknowledge_reason" in ids
    assert "resolve_reason" in ids
    assert len(ids) == len(set(ids))


def test_an_open_page_offers_to_declare_an_incident_for_it(desk, policy):
    page = make_page(policy)
    resolved = make_page(policy, state="resolved")

    html = desk.get(f"/desk/pages/{page.pk}/").content.decode()

    assert f'href="/desk/incidents/declare/?page={page.pk}"' in html
    assert "declare-incident" not in desk.get(f"/desk/pages/{resolved.pk}/").content.decode()
