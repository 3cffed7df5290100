"""The desk's and the portal's incident pages and the API: what each shows, refusals
(400/409, nothing changed), tenancy (404, no internal entries, no other community's name)
and pinned query counts."""

from __future__ import annotations

import pytest
from django.test import Client

from incidents.models import Incident, StatusUpdate, TimelineEntry
from incidents.services.lifecycle import incident_note_add
from incidents.services.updates import incident_update_post, update_fan_out, update_replies_send
from tests.communities.factories import CommunityFactory, MembershipFactory
from tests.incidents.factories import declare, open_ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def two(agent):
    """An incident affecting Alpha and Beta, with a ticket of each, an internal note and a
    public update; Gamma is not affected."""
    alpha, beta = CommunityFactory.create(name="Alpha"), CommunityFactory.create(name="Beta")
    gamma = CommunityFactory.create(name="Gamma")
    ta, tb = open_ticket(alpha, "Alpha is down"), open_ticket(beta, "Beta is down")
    incident = declare(agent, tickets=[ta, tb], severity="SEV1", title="Hub API down")
    incident_note_add(incident=incident, actor=agent, text="Secret: disk on db-3 full")
    incident_update_post(
        incident=incident, actor=agent, body="Hello [Customer Name], we are on it."
    )
    rep_a = ta.requester
    rep_g = MembershipFactory.create(community=gamma, role="representative").user
    return {"incident": incident, "alpha": alpha, "beta": beta, "ta": ta, "tb": tb,
            "rep_a": rep_a, "rep_g": rep_g}  # fmt: skip


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_desk_list_and_incident_page_show_everything(agent, two, django_assert_max_num_queries):
    client = _client(agent)
    with django_assert_max_num_queries(12):
        response = client.get("/desk/incidents/")
    assert response.status_code == 200
    assert "Hub API down" in response.text
    page = client.get(f"/desk/incidents/{two['incident'].pk}/")
    assert page.status_code == 200
    for text in (
        "Secret: disk on db-3 full",
        "Alpha",
        "Beta",
        two["ta"].reference,
        "Post a status update",
    ):
        assert text in page.text
    assert client.get(f"/desk/incidents/{two['incident'].pk}/?template=1").status_code == 200


def test_desk_list_query_count_does_not_grow(agent, two, django_assert_num_queries):
    client = _client(agent)
    client.get("/desk/incidents/")
    with django_assert_num_queries(4) as first:
        client.get("/desk/incidents/")
    for n in range(5):
        declare(agent, title=f"Other {n}", maintenance=True)
    with django_assert_num_queries(len(first.captured_queries)):
        client.get("/desk/incidents/")


def test_declare_from_a_ticket_on_the_desk(agent):
    ticket = open_ticket(subject="Portal 500s")
    client = _client(agent)
    form = client.get(f"/desk/incidents/declare/?ticket={ticket.reference}")
    assert form.status_code == 200
    assert "Portal 500s" in form.text
    response = client.post(
        "/desk/incidents/declare/",
        {"title": "Portal 500s", "severity": "SEV2", "communities": [ticket.community_id],
         "ticket": ticket.reference, "key": "abc"},
    )  # fmt: skip
    incident = Incident.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/desk/incidents/{incident.pk}/"
    assert list(incident.ticket_links.values_list("ticket_id", flat=True)) == [ticket.pk]
    again = client.post(
        "/desk/incidents/declare/",
        {"title": "Portal 500s", "severity": "SEV2", "ticket": ticket.reference, "key": "abc"},
    )
    assert again.status_code == 302
    assert Incident.objects.count() == 1


def test_desk_refusals_change_nothing(agent, two):
    client = _client(agent)
    incident = two["incident"]
    entries = TimelineEntry.objects.count()
    empty = client.post(
        f"/desk/incidents/{incident.pk}/update/", {"status": "investigating", "body": " "}
    )
    assert empty.status_code == 400
    assert "Write the update." in empty.text
    bad = client.post("/desk/incidents/declare/", {"title": "x", "severity": "SEV9"})
    assert bad.status_code == 400
    no_owner = client.post(f"/desk/incidents/{incident.pk}/action-items/", {"title": "Fix"})
    assert no_owner.status_code == 400
    resolve = client.post(f"/desk/incidents/{incident.pk}/transition/", {"status": "resolved"})
    assert resolve.status_code in (400, 409)
    assert TimelineEntry.objects.count() == entries
    assert StatusUpdate.objects.count() == 1
    assert Incident.objects.count() == 1


def test_desk_is_for_agents_only(two):
    client = _client(two["rep_a"])
    for url in (
        "/desk/incidents/",
        f"/desk/incidents/{two['incident'].pk}/",
        "/desk/incidents/uptime/",
    ):
        assert client.get(url).status_code == 404
    assert (
        client.post(f"/desk/incidents/{two['incident'].pk}/note/", {"text": "x"}).status_code == 404
    )


def test_the_uptime_report_renders(agent, two):
    response = _client(agent).get("/desk/incidents/uptime/?month=2026-01")
    assert response.status_code == 200
    assert _client(agent).get("/desk/incidents/uptime/?month=2026-13").status_code == 400


def test_the_portal_banner_and_history_for_an_affected_community(two):
    client = _client(two["rep_a"])
    home = client.get("/portal/")
    assert "Hello Alpha, we are on it." in home.text
    assert "Beta" not in home.text
    history = client.get("/portal/incidents/")
    assert history.status_code == 200
    assert "Hub API down" in history.text
    detail = client.get(f"/portal/incidents/{two['incident'].pk}/")
    assert detail.status_code == 200
    assert "Hello Alpha, we are on it." in detail.text
    assert "Secret" not in detail.text
    assert "Beta" not in detail.text


def test_the_portal_shows_nothing_to_another_community(two):
    client = _client(two["rep_g"])
    assert "Hub API down" not in client.get("/portal/").text
    assert "Hub API down" not in client.get("/portal/incidents/").text
    assert client.get(f"/portal/incidents/{two['incident'].pk}/").status_code == 404


def test_the_ticket_reply_names_only_its_own_community(agent, two):
    update = StatusUpdate.objects.get()
    for batch in update_fan_out(update_id=update.pk):
        update_replies_send(update_id=update.pk, reply_ids=batch)
    page = _client(two["rep_a"]).get(f"/portal/tickets/{two['ta'].reference}/")
    assert "Hello Alpha, we are on it." in page.text
    assert "Beta" not in page.text


# ---------------------------------------------------------------- the API


def test_api_member_view_is_public_and_scoped(api_as, two):
    incident = two["incident"]
    response = api_as(two["rep_a"]).get(f"/api/v1/incidents/{incident.pk}/")
    assert response.status_code == 200
    body = response.json()
    assert body["communities"] == [two["alpha"].slug]
    assert all(entry["public"] for entry in body["timeline"])
    assert "Secret" not in response.text
    assert "Beta" not in response.text
    assert body["updates"][0]["body"] == "Hello Alpha, we are on it."
    assert [i["id"] for i in api_as(two["rep_a"]).get("/api/v1/incidents/").json()["results"]] == [
        incident.pk
    ]


def test_api_other_community_gets_404_and_changes_nothing(api_as, two):
    client = api_as(two["rep_g"])
    incident = two["incident"]
    assert client.get(f"/api/v1/incidents/{incident.pk}/").status_code == 404
    assert (
        client.post(f"/api/v1/incidents/{incident.pk}/updates/", {"body": "x"}).status_code == 404
    )
    assert client.patch(f"/api/v1/incidents/{incident.pk}/", {"title": "x"}).status_code == 404
    assert client.get("/api/v1/incidents/").json()["results"] == []
    assert client.get(f"/api/v1/communities/{two['alpha'].slug}/uptime/").status_code == 404
    assert StatusUpdate.objects.count() == 1
    assert Incident.objects.get().title == "Hub API down"


def test_api_declare_update_resolve_and_refusals(api_as, agent, two):
    client = api_as(agent)
    created = client.post(
        "/api/v1/incidents/",
        {"title": "Search slow", "severity": "SEV3", "communities": [two["alpha"].slug]},
        format="json",
    )
    assert created.status_code == 201, created.json()
    incident_id = created.json()["id"]
    assert created.json()["reference"] == f"INC-{incident_id}"
    before = Incident.objects.count()
    assert (
        client.post(
            "/api/v1/incidents/", {"title": "x", "severity": "SEV7"}, format="json"
        ).status_code
        == 400
    )
    assert Incident.objects.count() == before
    assert (
        client.post(
            f"/api/v1/incidents/{incident_id}/updates/", {"body": ""}, format="json"
        ).status_code
        == 400
    )
    assert (
        client.post(
            f"/api/v1/incidents/{incident_id}/transition/", {"status": "resolved"}, format="json"
        ).status_code
        == 409
    )
    final = client.post(
        f"/api/v1/incidents/{incident_id}/updates/",
        {"body": "Fixed.", "status": "resolved"},
        format="json",
    )
    assert final.status_code == 201
    detail = client.get(f"/api/v1/incidents/{incident_id}/").json()
    assert detail["status"] == "resolved"
    early = client.patch(
        f"/api/v1/incidents/{incident_id}/",
        {"resolved_at": "2000-01-01T00:00:00Z"},
        format="json",
    )
    assert early.status_code == 400
    assert (
        client.post(
            f"/api/v1/incidents/{incident_id}/action-items/", {"title": "Index"}, format="json"
        ).status_code
        == 400
    )
    ok = client.post(
        f"/api/v1/incidents/{incident_id}/action-items/",
        {"title": "Index", "owner": agent.pk},
        format="json",
    )
    assert ok.status_code == 201


def test_api_uptime_for_members(api_as, two):
    response = api_as(two["rep_a"]).get(
        f"/api/v1/communities/{two['alpha'].slug}/uptime/?month=2026-02"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["month"] == "2026-02"
    assert body["minutes_in_month"] == 28 * 24 * 60
    bad = api_as(two["rep_a"]).get(f"/api/v1/communities/{two['alpha'].slug}/uptime/?month=02-2026")
    assert bad.status_code == 400


def test_api_list_query_count_is_pinned(api_as, agent, two, django_assert_num_queries):
    client = api_as(agent)
    client.get("/api/v1/incidents/")
    for n in range(3):
        declare(agent, title=f"Other {n}", maintenance=True)
    with django_assert_num_queries(2):  # the token, the page of incidents
        client.get("/api/v1/incidents/")


def test_the_schema_lists_the_incident_endpoints(api_as, agent):
    schema = api_as(agent).get("/api/schema/?format=json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/v1/incidents/{incident_id}/updates/" in paths
    assert "/api/v1/communities/{slug}/uptime/" in paths


def test_declare_from_a_page_links_it_and_pages_nobody_again(agent):
    from incidents.paging.models import Page
    from incidents.paging.services.pages import page_trigger

    page, _ = page_trigger(
        cause="integration", dedup_key="disk", title="Disk full on db-3", severity="critical",
        via="api",
    )  # fmt: skip
    client = _client(agent)
    form = client.get(f"/desk/incidents/declare/?page={page.pk}")
    assert form.status_code == 200
    assert "Disk full on db-3" in form.text
    response = client.post(
        "/desk/incidents/declare/",
        {"title": "Disk full on db-3", "severity": "SEV1", "page": page.pk, "key": "p1"},
    )
    assert response.status_code == 302
    incident = Incident.objects.get()
    assert incident.page_id == page.pk
    assert Page.objects.count() == 1
    assert client.get("/desk/incidents/declare/?page=999999").status_code == 404
