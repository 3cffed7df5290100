"""The pages API: agents only (anyone else: 404, nothing changed), field errors for bad
input, idempotent actions, Alertmanager's webhook, flat query counts."""

from __future__ import annotations

import pytest

from incidents.notify.models import Notification
from incidents.paging.models import Page, PageEvent, PolicyRoute
from tests.communities.factories import MembershipFactory
from tests.paging.conftest import T0, critical_ticket, minutes, publish_critical, who

pytestmark = pytest.mark.django_db

TRIGGER = {
    "title": "Disk full on db-1",
    "details": "95 %",
    "severity": "high",
    "dedup_key": "db-1-disk",
}


@pytest.fixture
def routed(oncall):
    PolicyRoute.objects.create(cause="integration", policy=oncall.policy)
    return oncall


def errors_of(response) -> dict[str, str]:
    body = response.json()
    assert body["type"] == "validation_error", body
    return {e["attr"]: e["code"] for e in body["errors"]}


def state() -> list[tuple[object, ...]]:
    return list(
        Page.objects.order_by("id").values_list("id", "state", "trigger_count", "silenced_until")
    ) + [(PageEvent.objects.count(), Notification.objects.count())]


def test_an_integration_triggers_a_page_and_the_same_key_attaches(api_as, agent, routed, at_t0):
    client = api_as(agent)

    first = client.post("/api/v1/pages/", TRIGGER, format="json")
    again = client.post("/api/v1/pages/", {**TRIGGER, "title": "Still full"}, format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    body = first.json()
    assert (body["state"], body["cause"], body["severity"], body["dedup_key"]) == (
        "triggered", "integration", "high", "api:db-1-disk",
    )  # fmt: skip
    assert [e["kind"] for e in body["timeline"]] == ["triggered", "notified", "waiting"]
    assert body["timeline"][0]["via"] == "api"
    assert body["timeline"][0]["actor"]["id"] == agent.pk
    assert again.json()["id"] == body["id"]
    assert again.json()["trigger_count"] == 2
    assert who() == ["alice"]


def test_pages_without_a_key_are_never_merged(api_as, agent, routed, at_t0):
    client = api_as(agent)
    data = {"title": "Ping failed"}
    ids = {client.post("/api/v1/pages/", data, format="json").json()["id"] for _ in range(2)}
    assert len(ids) == 2
    assert Page.objects.get(pk=min(ids)).severity == "critical"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({}, {"title": "required"}),
        ({"title": ""}, {"title": "blank"}),
        ({"title": "x" * 301}, {"title": "max_length"}),
        ({"title": "T", "severity": "urgent"}, {"severity": "invalid_choice"}),
        ({"title": "T", "dedup_key": "k" * 201}, {"dedup_key": "max_length"}),
        ({"title": "T", "community": "nowhere"}, {"community": "does_not_exist"}),
        ({"title": "T", "state": "resolved"}, {"state": "unknown_field"}),
    ],
)
def test_bad_input_is_a_400_with_field_errors_and_changes_nothing(
    api_as, agent, routed, data, expected
):
    before = state()
    response = api_as(agent).post("/api/v1/pages/", data, format="json")
    assert response.status_code == 400
    assert errors_of(response) == expected
    assert state() == before


def test_agents_list_pages_newest_first_in_a_fixed_number_of_queries(
    api_as, agent, routed, at_t0, django_assert_num_queries
):
    client = api_as(agent)

    def listed() -> list[int]:
        with django_assert_num_queries(2):  # the token (with its user), the pages
            response = client.get("/api/v1/pages/")
        assert response.status_code == 200
        return [p["id"] for p in response.json()["results"]]

    for _n in range(3):
        publish_critical(critical_ticket())
    few = listed()
    for _n in range(5):
        publish_critical(critical_ticket())
    many = listed()
    assert len(few) == 3
    assert many == sorted(many, reverse=True)
    assert len(many) == 8


def test_the_list_filters_by_state(api_as, agent, routed, at_t0):
    client = api_as(agent)
    ids = [
        client.post("/api/v1/pages/", {"title": f"P{n}"}, format="json").json()["id"]
        for n in range(3)
    ]
    client.post(f"/api/v1/pages/{ids[0]}/acknowledge/")
    client.post(f"/api/v1/pages/{ids[1]}/resolve/")

    def listed(query: str) -> list[int]:
        return [p["id"] for p in client.get(f"/api/v1/pages/?state={query}").json()["results"]]

    assert listed("open") == [ids[2], ids[0]]
    assert listed("triggered") == [ids[2]]
    assert listed("acknowledged") == [ids[0]]
    assert listed("resolved") == [ids[1]]
    bad = client.get("/api/v1/pages/?state=lost")
    assert (bad.status_code, errors_of(bad)) == (400, {"state": "invalid_choice"})


def test_acknowledge_unacknowledge_silence_and_resolve(api_as, agent, routed, at_t0):
    client = api_as(agent)
    page_id = client.post("/api/v1/pages/", TRIGGER, format="json").json()["id"]

    silenced = client.post(f"/api/v1/pages/{page_id}/silence/", {"minutes": 30}, format="json")
    assert silenced.status_code == 200
    assert silenced.json()["next_escalation_at"] == "2026-03-11T14:30:00Z"

    acked = client.post(f"/api/v1/pages/{page_id}/acknowledge/")
    assert (acked.status_code, acked.json()["state"]) == (200, "acknowledged")
    assert acked.json()["acknowledged_by"]["id"] == agent.pk
    again = client.post(f"/api/v1/pages/{page_id}/acknowledge/")
    assert (again.status_code, again.json()["acknowledged_at"]) == (
        200,
        acked.json()["acknowledged_at"],
    )
    silence_acked = client.post(f"/api/v1/pages/{page_id}/silence/", {"minutes": 5}, format="json")
    assert (silence_acked.status_code, silence_acked.json()["errors"][0]["code"]) == (
        409, "page_not_triggered",
    )  # fmt: skip

    unacked = client.post(f"/api/v1/pages/{page_id}/unacknowledge/")
    assert (unacked.status_code, unacked.json()["state"]) == (200, "triggered")

    resolved = client.post(f"/api/v1/pages/{page_id}/resolve/")
    assert (resolved.status_code, resolved.json()["state"]) == (200, "resolved")
    assert client.post(f"/api/v1/pages/{page_id}/resolve/").status_code == 200
    late = client.post(f"/api/v1/pages/{page_id}/acknowledge/")
    assert (late.status_code, late.json()["errors"][0]["code"]) == (409, "page_resolved")

    kinds = [e["kind"] for e in client.get(f"/api/v1/pages/{page_id}/").json()["timeline"]]
    assert kinds == [
        "triggered", "notified", "waiting", "silenced", "acknowledged", "unacknowledged",
        "resolved",
    ]  # fmt: skip
    assert set(
        PageEvent.objects.exclude(kind__in=["notified", "waiting"]).values_list("via", flat=True)
    ) == {"api"}


@pytest.mark.parametrize(
    ("data", "expected"),
    [({}, {"minutes": "required"}), ({"minutes": 0}, {"minutes": "min_value"}),
     ({"minutes": 1441}, {"minutes": "max_value"}), ({"minutes": "soon"}, {"minutes": "invalid"})],
)  # fmt: skip
def test_a_bad_silence_is_a_400_and_changes_nothing(api_as, agent, routed, at_t0, data, expected):
    client = api_as(agent)
    page_id = client.post("/api/v1/pages/", TRIGGER, format="json").json()["id"]
    before = state()
    response = client.post(f"/api/v1/pages/{page_id}/silence/", data, format="json")
    assert (response.status_code, errors_of(response)) == (400, expected)
    assert state() == before


@pytest.mark.parametrize("who_asks", ["member", "representative", "outsider", "stranger"])
def test_anyone_but_an_agent_gets_404_everywhere_and_nothing_changes(
    api_as, routed, at_t0, request, who_asks
):
    publish_critical(critical_ticket())
    page = Page.objects.get()
    if who_asks in ("member", "representative"):
        user = MembershipFactory.create(community=page.community, role=who_asks).user
    else:
        user = request.getfixturevalue(who_asks)
    client = api_as(user)
    before = state()
    for method, path, data in [
        ("get", "/api/v1/pages/", None),
        ("post", "/api/v1/pages/", TRIGGER),
        ("get", f"/api/v1/pages/{page.pk}/", None),
        ("post", f"/api/v1/pages/{page.pk}/acknowledge/", None),
        ("post", f"/api/v1/pages/{page.pk}/unacknowledge/", None),
        ("post", f"/api/v1/pages/{page.pk}/resolve/", None),
        ("post", f"/api/v1/pages/{page.pk}/silence/", {"minutes": 10}),
    ]:
        response = getattr(client, method)(path, data, format="json")
        assert response.status_code == 404, (path, response.status_code)
    assert state() == before


def test_anonymous_requests_are_401(api_as, routed, at_t0):
    publish_critical(critical_ticket())
    page = Page.objects.get()
    client = api_as(None)
    assert client.get("/api/v1/pages/").status_code == 401
    assert client.post(f"/api/v1/pages/{page.pk}/acknowledge/").status_code == 401
    assert Page.objects.get().state == "triggered"


def test_a_missing_page_is_404(api_as, agent):
    assert api_as(agent).post("/api/v1/pages/999999/acknowledge/").status_code == 404


# ---------------------------------------------------------------- Alertmanager


def alert(status: str, fingerprint: str = "f1", **labels: str) -> dict[str, object]:
    return {
        "status": status,
        "labels": {"alertname": "HighErrorRate", "severity": "critical", "job": "api", **labels},
        "annotations": {"summary": "5xx above 5 %", "description": "for 10 minutes"},
        "startsAt": "2026-03-11T13:55:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.local/graph",
        "fingerprint": fingerprint,
    }


def body(status: str, *alerts: dict[str, object]) -> dict[str, object]:
    return {
        "version": "4", "groupKey": "{}:{alertname=\"HighErrorRate\"}", "status": status,
        "receiver": "supportdesk", "groupLabels": {}, "commonLabels": {},
        "commonAnnotations": {}, "externalURL": "http://alertmanager.local", "alerts": list(alerts),
    }  # fmt: skip


@pytest.fixture
def alertmanager(settings, api_as, routed):
    settings.PAGING_ALERTMANAGER_TOKEN = "am-token"
    client = api_as(None)
    client.credentials(HTTP_AUTHORIZATION="Bearer am-token")
    return client


def test_alertmanager_firing_triggers_repeats_attach_and_resolved_resolves(alertmanager, at_t0):
    url = "/api/v1/pages/alertmanager/"
    fired = alertmanager.post(
        url, body("firing", alert("firing"), alert("firing", "f2")), format="json"
    )
    assert fired.status_code == 200
    first, second = Page.objects.order_by("id")
    assert fired.json() == {"triggered": [first.pk, second.pk], "attached": [], "resolved": []}
    assert (first.title, first.severity, first.service, first.dedup_key, first.details) == (
        "5xx above 5 %", "critical", "api", "alertmanager:f1", "for 10 minutes",
    )  # fmt: skip
    assert first.source_data["labels"]["alertname"] == "HighErrorRate"
    assert PageEvent.objects.filter(page=first, kind="triggered").get().via == "integration"

    repeat = alertmanager.post(url, body("firing", alert("firing")), format="json")
    assert repeat.json() == {"triggered": [], "attached": [first.pk], "resolved": []}

    at_t0.shift(minutes(2))
    cleared = alertmanager.post(url, body("resolved", alert("resolved")), format="json")
    assert cleared.json() == {"triggered": [], "attached": [], "resolved": [first.pk]}
    first.refresh_from_db()
    assert (first.state, first.resolved_at) == ("resolved", T0 + minutes(2))
    assert Page.objects.get(pk=second.pk).state == "triggered"
    again = alertmanager.post(url, body("resolved", alert("resolved")), format="json")
    assert again.json() == {"triggered": [], "attached": [], "resolved": []}


def test_alertmanager_without_a_fingerprint_dedups_by_group_and_labels(alertmanager, at_t0):
    url = "/api/v1/pages/alertmanager/"
    one = alert("firing", "")
    alertmanager.post(url, body("firing", one), format="json")
    alertmanager.post(url, body("firing", one), format="json")
    alertmanager.post(url, body("firing", alert("firing", "", instance="b")), format="json")
    assert sorted(Page.objects.values_list("trigger_count", flat=True)) == [1, 2]


@pytest.mark.parametrize("header", [None, "Bearer wrong", "Token am-token", "am-token"])
def test_alertmanager_needs_its_token(settings, api_as, routed, header):
    settings.PAGING_ALERTMANAGER_TOKEN = "am-token"
    client = api_as(None)
    if header:
        client.credentials(HTTP_AUTHORIZATION=header)
    response = client.post(
        "/api/v1/pages/alertmanager/", body("firing", alert("firing")), format="json"
    )
    assert response.status_code == 401
    assert Page.objects.count() == 0


def test_alertmanager_is_off_without_a_token(settings, api_as, routed):
    settings.PAGING_ALERTMANAGER_TOKEN = ""
    client = api_as(None)
    client.credentials(HTTP_AUTHORIZATION="Bearer ")
    response = client.post(
        "/api/v1/pages/alertmanager/", body("firing", alert("firing")), format="json"
    )
    assert response.status_code == 404
    assert Page.objects.count() == 0


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"status": "firing", "alerts": []}, {"alerts.non_field_errors": "empty"}),
        ({"status": "burning", "alerts": [alert("firing")]}, {"status": "invalid_choice"}),
        ({"status": "firing", "alerts": [{"status": "firing"}]}, {"alerts.0.labels": "required"}),
    ],
)
def test_a_bad_alertmanager_body_is_a_400_and_changes_nothing(alertmanager, data, expected):
    response = alertmanager.post("/api/v1/pages/alertmanager/", data, format="json")
    assert (response.status_code, errors_of(response)) == (400, expected)
    assert Page.objects.count() == 0


def test_the_schema_lists_the_pages_endpoints(client):
    schema = client.get("/api/schema/?format=json").json()
    for path in (
        "/api/v1/pages/", "/api/v1/pages/{page_id}/", "/api/v1/pages/{page_id}/acknowledge/",
        "/api/v1/pages/{page_id}/resolve/", "/api/v1/pages/{page_id}/unacknowledge/",
        "/api/v1/pages/{page_id}/silence/", "/api/v1/pages/alertmanager/",
    ):  # fmt: skip
        assert path in schema["paths"], path
