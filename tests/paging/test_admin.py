"""The paging admin: its pages render, policy steps are checked as a whole, and the policy
test shows who would be notified when, at a frozen instant, writing and sending nothing."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail

from incidents.notify.models import Delivery, Notification
from incidents.paging.models import (
    EscalationPolicy,
    EscalationStep,
    MaintenanceWindow,
    Page,
    PageEvent,
    PolicyRoute,
    TeamCursor,
)
from incidents.paging.preview import policy_preview
from incidents.paging.services.policies import policy_create
from tests.core.factories import AgentFactory
from tests.notify.factories import RuleFactory
from tests.routing.factories import AgentProfileFactory, TeamFactory

pytestmark = pytest.mark.django_db

# The Monday of the rotation's second week, five minutes before the 09:00 handoff.
BEFORE_HANDOFF = datetime(2026, 3, 16, 8, 55, tzinfo=UTC)


@pytest.fixture
def admin_client(client):
    client.force_login(AgentFactory.create(is_superuser=True, time_zone="UTC"))
    return client


def _written() -> dict[str, int]:
    return {
        "pages": Page.objects.count(),
        "events": PageEvent.objects.count(),
        "notifications": Notification.objects.count(),
        "deliveries": Delivery.objects.count(),
        "cursors": TeamCursor.objects.count(),
        "policies": EscalationPolicy.history.count(),
        "steps": EscalationStep.history.count(),
    }


def _table(html: str) -> list[list[str]]:
    """The policy test's rows, as text."""
    body = html.split('<table class="policy-test">')[1].split("</table>")[0]
    rows = re.findall(r"<tr>(.*?)</tr>", body.split("<tbody>")[1], re.S)
    return [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td>(.*?)</td>", row, re.S)]
        for row in rows
    ]


def test_the_policy_test_resolves_each_step_at_its_own_instant_and_writes_nothing(
    admin_client, oncall, dispatched
):
    RuleFactory.create(user=oncall.alice, importance="important", channel="email", position=0)
    RuleFactory.create(
        user=oncall.alice, importance="important", channel="sms", delay_minutes=1, position=1
    )
    before = _written()

    with time_machine.travel(BEFORE_HANDOFF, tick=False):
        response = admin_client.get(
            f"/admin/paging/escalationpolicy/{oncall.policy.pk}/test/",
            {"cause": "critical_ticket", "severity": "critical", "at": ""},
        )

    assert response.status_code == 200
    html = response.content.decode()
    assert "The routes send this cause and severity to this policy." in html
    who = lambda person: person.display_name  # noqa: E731
    assert _table(html) == [
        # 08:55: Alice is on call (her first week); her own important rules
        ["0 min", "2026-03-16 08:55", "1", "Notify whoever is on call · important",
         f"{who(oncall.alice)} (on call in Primary)", "Email at once (08:55), SMS after 1 min (08:56)"],
        ["0 min", "2026-03-16 08:55", "2", "Wait 5 min", "", ""],
        # 09:00: the backup has handed over to Dave; he has no rules: email and desk
        ["5 min", "2026-03-16 09:00", "3", "Notify whoever is on call · important",
         f"{who(oncall.dave)} (on call in Backup)",
         "Email at once (09:00), Desk notification at once (09:00)"],
        ["5 min", "2026-03-16 09:00", "4", "Wait 5 min", "", ""],
        ["10 min", "2026-03-16 09:05", "5", "Notify people",
         f"{who(oncall.lena)} (named in the policy)",
         "Email at once (09:05), Desk notification at once (09:05)"],
        ["10 min", "2026-03-16 09:05", "6", "Wait 10 min", "", ""],
        ["20 min", "2026-03-16 09:15", "7 (repeat 1)", "Repeat 1 of 1: back to step 1", "", ""],
        # The second round: Bob has taken over the primary at 09:00
        ["20 min", "2026-03-16 09:15", "1 (repeat 1)", "Notify whoever is on call · important",
         f"{who(oncall.bob)} (on call in Primary)",
         "Email at once (09:15), Desk notification at once (09:15)"],
        ["20 min", "2026-03-16 09:15", "2 (repeat 1)", "Wait 5 min", "", ""],
        ["25 min", "2026-03-16 09:20", "3 (repeat 1)", "Notify whoever is on call · important",
         f"{who(oncall.dave)} (on call in Backup)",
         "Email at once (09:20), Desk notification at once (09:20)"],
        ["25 min", "2026-03-16 09:20", "4 (repeat 1)", "Wait 5 min", "", ""],
        ["30 min", "2026-03-16 09:25", "5 (repeat 1)", "Notify people",
         f"{who(oncall.lena)} (named in the policy)",
         "Email at once (09:25), Desk notification at once (09:25)"],
        ["30 min", "2026-03-16 09:25", "6 (repeat 1)", "Wait 10 min", "", ""],
        ["40 min", "2026-03-16 09:35", "7 (repeat 1)", "Repeated 1 times: go on", "", ""],
        ["40 min", "2026-03-16 09:35", "fallback (repeat 1)", "Fallback · important",
         f"{who(oncall.mark)} (fallback)",
         "Email at once (09:35), Desk notification at once (09:35)"],
    ]  # fmt: skip
    assert _written() == before
    assert mail.outbox == []
    assert (dispatched.scheduled, dispatched.swept) == ([], [])


def test_the_policy_test_reads_the_instant_given_in_the_admins_time_zone(admin_client, oncall):
    response = admin_client.get(
        f"/admin/paging/escalationpolicy/{oncall.policy.pk}/test/",
        {"cause": "sla_breach", "severity": "medium", "at": "2026-03-16 09:02"},
    )

    html = response.content.decode()
    assert "No active route sends this cause and severity to any policy" in html
    rows = _table(html)
    assert rows[0][1:5] == [
        "2026-03-16 09:02", "1", "Notify whoever is on call · important",
        f"{oncall.bob.display_name} (on call in Primary)",
    ]  # fmt: skip


def test_the_policy_test_names_the_policy_the_routes_pick_when_it_is_another(admin_client, oncall):
    other = policy_create(
        name="Medium breaches", steps=[{"kind": "notify_users", "users": [oncall.lena]}]
    )
    PolicyRoute.objects.create(cause="sla_breach", severity="medium", policy=other)

    html = admin_client.get(
        f"/admin/paging/escalationpolicy/{oncall.policy.pk}/test/",
        {"cause": "sla_breach", "severity": "medium", "at": "2026-03-16 09:02"},
    ).content.decode()

    assert (
        f'to <a href="/admin/paging/escalationpolicy/{other.pk}/change/">Medium breaches</a>, '
        "not to this policy" in html
    )


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"cause": "meteor", "severity": "critical"}, "cause"),
        ({"cause": "incident", "severity": "apocalyptic"}, "severity"),
        ({"cause": "incident", "severity": "high", "at": "next tuesday"}, "at"),
        ({"cause": "incident", "severity": "high", "community": "999999"}, "community"),
    ],
)
def test_the_policy_test_refuses_bad_input_with_form_errors(admin_client, oncall, params, field):
    response = admin_client.get(f"/admin/paging/escalationpolicy/{oncall.policy.pk}/test/", params)

    assert response.status_code == 200
    html = response.content.decode()
    assert re.search(rf'<ul class="errorlist" id="id_{field}_error"><li>', html)
    assert '<table class="policy-test">' not in html


def test_the_policy_test_counts_round_robin_on_from_the_cursor_without_moving_it(oncall):
    members = [AgentProfileFactory.create() for _ in range(3)]
    team = TeamFactory.create(name="Engineering")
    team.members.set(members)
    users = sorted((p.user for p in members), key=lambda u: u.pk)
    TeamCursor.objects.create(team=team, last_user=users[0])
    policy = policy_create(
        name="Round robin",
        steps=[
            {"kind": "notify_team", "team": team, "team_mode": "round_robin"},
            {"kind": "repeat", "repeat_from": 1, "repeat_times": 2},
        ],
    )

    preview = policy_preview(policy=policy, at=BEFORE_HANDOFF)

    assert [(r.what, r.person) for r in preview.rows if r.person is not None] == [
        ("Notify a team", users[1]),
        ("Notify a team", users[2]),
        ("Notify a team", users[0]),
    ]
    assert TeamCursor.objects.get(team=team).last_user == users[0]


def test_the_policy_test_waits_for_a_time_window_and_says_who_is_not_there(oncall):
    policy = policy_create(
        name="Office hours",
        steps=[
            {"kind": "time_window", "window_starts": "09:00", "window_ends": "17:00",
             "window_time_zone": "Europe/Berlin"},
            {"kind": "notify_users", "users": [oncall.lena]},
            {"kind": "resolve"},
        ],
    )  # fmt: skip
    lena = oncall.lena
    lena.is_active = False
    lena.save()

    # 06:00 UTC is 07:00 in Berlin: two hours before the window opens.
    preview = policy_preview(policy=policy, at=datetime(2026, 3, 16, 6, 0, tzinfo=UTC))

    assert [(r.offset, r.what, r.person, r.why) for r in preview.rows] == [
        (timedelta(0), "Outside the time window (Europe/Berlin, policy): wait until it opens",
         None, ""),
        (timedelta(hours=2), "Notify people", None, "named in the policy"),
        (timedelta(hours=2), "Resolve the page: nothing more happens", None, ""),
    ]  # fmt: skip


# ---------------------------------------------------------------- the admin's pages


def test_the_admin_pages_render(admin_client, oncall):
    page = Page.objects.create(
        cause="critical_ticket", dedup_key="admin-1", title="Hub down", severity="critical",
        policy=oncall.policy,
    )  # fmt: skip
    PageEvent.objects.create(page=page, kind="triggered", detail={"via": "test"})
    PageEvent.objects.create(page=page, kind="notified", detail={"user": "Alice"})
    MaintenanceWindow.objects.create(
        service="hub", starts_at=BEFORE_HANDOFF, ends_at=BEFORE_HANDOFF + timedelta(hours=1)
    )
    route = PolicyRoute.objects.get()
    for url in [
        "/admin/paging/escalationpolicy/",
        "/admin/paging/escalationpolicy/add/",
        f"/admin/paging/escalationpolicy/{oncall.policy.pk}/change/",
        f"/admin/paging/escalationpolicy/{oncall.policy.pk}/history/",
        f"/admin/paging/escalationpolicy/{oncall.policy.pk}/test/",
        "/admin/paging/policyroute/",
        f"/admin/paging/policyroute/{route.pk}/change/",
        "/admin/paging/maintenancewindow/",
        "/admin/paging/maintenancewindow/add/",
        "/admin/paging/page/",
        f"/admin/paging/page/{page.pk}/change/",
    ]:
        assert admin_client.get(url).status_code == 200, url

    change = admin_client.get(
        f"/admin/paging/escalationpolicy/{oncall.policy.pk}/change/"
    ).content.decode()
    assert (
        f'href="/admin/paging/escalationpolicy/{oncall.policy.pk}/test/">Policy test</a>' in change
    )
    shown = admin_client.get(f"/admin/paging/page/{page.pk}/change/").content.decode()
    assert 'id="events-group"' in shown  # the timeline inline
    assert "Notified" in shown
    assert 'name="_save"' not in shown  # read-only


def _policy_form(**steps: dict[str, str]) -> dict[str, str]:
    data = {
        "name": "From the admin",
        "description": "",
        "reminder_confirm_minutes": "15",
        "steps-TOTAL_FORMS": str(len(steps)),
        "steps-INITIAL_FORMS": "0",
        "steps-MIN_NUM_FORMS": "0",
        "steps-MAX_NUM_FORMS": "1000",
    }
    for i, fields in enumerate(steps.values()):
        data.update({f"steps-{i}-{k}": v for k, v in fields.items()})
        data.setdefault(f"steps-{i}-window_time_zone", "UTC")
        data.setdefault(f"steps-{i}-on_call_when", "now")
        data.setdefault(f"steps-{i}-team_mode", "everyone")
    return data


def test_the_admin_refuses_a_policy_that_notifies_nobody_and_saves_nothing(admin_client):
    response = admin_client.post(
        "/admin/paging/escalationpolicy/add/",
        _policy_form(a={"position": "1", "kind": "wait", "wait_minutes": "5"}),
    )

    assert response.status_code == 200
    assert "A policy needs at least one step that notifies someone." in response.content.decode()
    assert not EscalationPolicy.objects.exists()
    assert not EscalationStep.objects.exists()


def test_the_admin_refuses_a_repeat_that_goes_nowhere_beside_the_step(admin_client):
    someone = AgentFactory.create()
    response = admin_client.post(
        "/admin/paging/escalationpolicy/add/",
        _policy_form(
            a={"position": "1", "kind": "notify_users", "users": str(someone.pk)},
            b={"position": "3", "kind": "repeat", "repeat_from": "2", "repeat_times": "2"},
        ),
    )

    assert response.status_code == 200
    assert "there is no step 2 to repeat from" in response.content.decode()
    assert not EscalationPolicy.objects.exists()


def test_the_admin_saves_a_policy_with_its_steps_and_their_history(admin_client):
    someone = AgentFactory.create()
    response = admin_client.post(
        "/admin/paging/escalationpolicy/add/",
        _policy_form(
            a={"position": "1", "kind": "notify_users", "users": str(someone.pk),
               "important": "on"},
            b={"position": "2", "kind": "wait", "wait_minutes": "5"},
        ),
    )  # fmt: skip

    assert response.status_code == 302
    policy = EscalationPolicy.objects.get(name="From the admin")
    assert list(policy.steps.values_list("position", "kind", "important")) == [
        (1, "notify_users", True),
        (2, "wait", False),
    ]
    assert list(policy.steps.get(position=1).users.all()) == [someone]
    assert policy.history.count() == 1
    created = EscalationStep.history.filter(history_type="+")
    assert sorted(created.values_list("position", flat=True)) == [1, 2]


def test_the_admin_adds_a_maintenance_window_through_the_service_and_refuses_a_backward_one(
    admin_client,
):
    bad = admin_client.post(
        "/admin/paging/maintenancewindow/add/",
        {"service": "hub", "starts_at_0": "2026-03-16", "starts_at_1": "10:00",
         "ends_at_0": "2026-03-16", "ends_at_1": "09:00", "reason": ""},
    )  # fmt: skip
    good = admin_client.post(
        "/admin/paging/maintenancewindow/add/",
        {"service": "hub", "starts_at_0": "2026-03-16", "starts_at_1": "09:00",
         "ends_at_0": "2026-03-16", "ends_at_1": "10:00", "reason": "Upgrade"},
    )  # fmt: skip

    assert bad.status_code == 200
    assert "A maintenance window ends after it starts." in bad.content.decode()
    assert good.status_code == 302
    window = MaintenanceWindow.objects.get()
    assert window.created_by is not None
    assert (window.service, window.reason, window.created_by.is_superuser) == (
        "hub",
        "Upgrade",
        True,
    )
