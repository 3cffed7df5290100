"""The dashboards on the desk and the portal, their CSV exports (the same text as the screen),
the drill-down, the API, and tenancy: a representative sees only their communities."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
import time_machine

from communities.models import TimeEntry
from reports.rollups import rollups_refresh
from tests.communities.factories import CommunityFactory, MembershipFactory, SupportBudgetFactory
from tests.core.factories import AgentFactory
from tests.tickets.factories import TicketFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def scene(db):
    ours = CommunityFactory.create(name="Ours", slug="ours", time_zone="UTC")
    theirs = CommunityFactory.create(name="Theirs", slug="theirs", time_zone="UTC")
    rep = MembershipFactory.create(community=ours, role="representative").user
    member = MembershipFactory.create(community=ours, role="member").user
    other_rep = MembershipFactory.create(community=theirs, role="representative").user
    agent = AgentFactory.create()
    SupportBudgetFactory.create(community=ours, hours=10, period="month")
    SupportBudgetFactory.create(community=theirs, hours=20, period="month")
    for i, community in enumerate((ours, ours, ours, theirs)):
        TicketFactory.create(
            community=community,
            created_at=NOW - timedelta(days=2 + i),
            status="resolved" if i % 2 else "open",
            resolved_at=NOW - timedelta(days=1) if i % 2 else None,
            first_responded_at=NOW - timedelta(days=2 + i) + timedelta(minutes=30),
            tier="expert",
            severity="high",
        )
    t = TicketFactory.create(community=ours, created_at=NOW - timedelta(days=1))
    TimeEntry.objects.create(
        ticket=t, community=ours, agent=agent, minutes=120, worked_at=NOW - timedelta(hours=3)
    )
    return {
        "ours": ours,
        "theirs": theirs,
        "rep": rep,
        "member": member,
        "other_rep": other_rep,
        "agent": agent,
    }


def table_text(html: str, key: str) -> list[list[str]]:
    """The text of the table `data-table=key` as a person reads it."""
    match = re.search(rf'<table[^>]*data-table="{key}".*?</table>', html, re.S)
    assert match, key
    rows = []
    for row in re.findall(r"<tr>(.*?)</tr>", match.group(0), re.S):
        cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        rows.append([unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in cells])
    return rows


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode())))


@pytest.mark.parametrize("key", ["support", "operations", "executive", "community"])
def test_each_desk_dashboard_renders_and_every_table_exports_the_same_text(client, scene, key):
    client.force_login(scene["agent"])
    response = client.get(f"/desk/reports/{key}/")
    assert response.status_code == 200
    html = response.content.decode()
    keys = re.findall(r'data-table="([\w-]+)"', html)
    assert keys
    for table in keys:
        exported = client.get(f"/desk/reports/{key}/{table}.csv")
        assert exported.status_code == 200
        assert exported["Content-Type"].startswith("text/csv")
        assert csv_rows(exported) == table_text(html, table), table


def test_the_community_dashboard_shows_each_community_with_its_budget(client, scene):
    client.force_login(scene["agent"])
    response = client.get("/desk/reports/community/communities.csv")
    rows = csv_rows(response)
    assert rows[0][:5] == ["Community", "Plan", "Opened", "Resolved", "Open now"]
    ours = next(r for r in rows if r[0] == "Ours")
    theirs = next(r for r in rows if r[0] == "Theirs")
    # Ours: 4 opened in the last 30 days, 1 resolved, 3 open; 2 h of 10 h used.
    assert (ours[2], ours[3], ours[4]) == ("4", "1", "3")
    assert (ours[8], ours[9], ours[10], ours[11]) == ("10.0", "2.0", "8.0", "20.0 %")
    assert (theirs[2], theirs[3], theirs[4], theirs[9]) == ("1", "1", "0", "0.0")


def test_a_figure_drills_down_to_the_tickets_it_counts(client, scene):
    client.force_login(scene["agent"])
    response = client.get("/desk/reports/tickets/?metric=resolved&community=ours")
    rows = table_text(response.content.decode(), "tickets")
    assert len(rows) == 2  # the header and the one ticket of Ours resolved in the period
    exported = csv_rows(
        client.get("/desk/reports/tickets/?metric=resolved&community=ours&format=csv")
    )
    assert exported == rows


def test_backlog_figures_link_to_the_desk_queue_with_its_filters(client, scene):
    client.force_login(scene["agent"])
    html = client.get("/desk/reports/operations/?community=ours").content.decode()
    assert "/desk/?status=new&amp;status=awaiting_approval" in html
    assert "community=ours&amp;tier=expert&amp;severity=high" in html


def test_filters_and_the_previous_period_reach_the_figures(client, scene):
    client.force_login(scene["agent"])
    html = client.get("/desk/reports/support/?community=theirs&period=7d").content.decode()
    rows = table_text(html, "figures")
    volume = next(r for r in rows if r[0] == "Tickets opened")
    assert volume[1:4] == ["1", "0", "+1"]


def test_a_representative_sees_only_the_communities_they_represent(client, scene):
    client.force_login(scene["rep"])
    response = client.get("/portal/reports/")
    assert response.status_code == 200
    html = response.content.decode()
    names = [row[0] for row in table_text(html, "communities")[1:]]
    assert names == ["Ours"]
    exported = csv_rows(client.get("/portal/reports/communities.csv"))
    assert exported == table_text(html, "communities")
    assert "Theirs" not in response.content.decode()
    page = client.get("/portal/reports/ours/")
    assert page.status_code == 200


@pytest.mark.parametrize(
    "url",
    ["/portal/reports/theirs/", "/portal/reports/theirs/communities.csv", "/portal/reports/?community=theirs",
     "/portal/reports/nowhere/"],
)  # fmt: skip
def test_another_communitys_reports_are_not_found(client, scene, url):
    client.force_login(scene["rep"])
    assert client.get(url).status_code == 404


def test_members_who_are_not_representatives_have_no_reports(client, scene):
    client.force_login(scene["member"])
    assert client.get("/portal/reports/").status_code == 404
    assert client.get("/portal/reports/ours/").status_code == 404


def test_the_api_keeps_the_same_scope(api_as, scene):
    rep = api_as(scene["rep"])
    response = rep.get("/api/v1/reports/metrics/")
    assert response.status_code == 200
    body = response.json()
    assert body["communities"] == ["ours"]
    figures = {f["key"]: f for f in body["figures"]}
    assert figures["volume"]["value"] == 4
    assert "utilisation" not in figures  # agents' figures are for the desk
    assert rep.get("/api/v1/reports/metrics/?community=theirs").status_code == 404
    assert rep.get("/api/v1/reports/dashboards/support/").status_code == 404
    tables = rep.get("/api/v1/reports/dashboards/community/").json()["tables"]
    communities = next(t for t in tables if t["key"] == "communities")
    assert [r[0] for r in communities["rows"]] == ["Ours"]
    assert api_as(scene["member"]).get("/api/v1/reports/metrics/").status_code == 404
    agent = api_as(scene["agent"]).get("/api/v1/reports/metrics/").json()
    assert agent["communities"] == ["ours", "theirs"]
    assert {f["key"]: f["value"] for f in agent["figures"]}["volume"] == 5


def test_the_reports_are_in_the_openapi_schema(client):
    schema = client.get("/api/schema/").content.decode()
    assert "/api/v1/reports/metrics/" in schema
    assert "/api/v1/reports/dashboards/{key}/" in schema


@pytest.mark.parametrize(("held", "queries"), [(False, 36), (True, 40)])
def test_the_support_dashboard_takes_a_fixed_number_of_queries(
    client, scene, django_assert_num_queries, held, queries
):
    """From the source rows alone, or with the past days from the roll-ups."""
    if held:
        rollups_refresh()
    client.force_login(scene["agent"])
    client.get("/desk/reports/support/")  # warm the agent list
    with django_assert_num_queries(queries):
        assert client.get("/desk/reports/support/").status_code == 200
    TicketFactory.create_batch(3, community=scene["theirs"], created_at=NOW - timedelta(days=3))
    with django_assert_num_queries(queries):
        assert client.get("/desk/reports/support/").status_code == 200


@pytest.mark.parametrize(("held", "queries"), [(False, 30), (True, 31)])
def test_the_portal_reports_take_a_fixed_number_of_queries(
    client, scene, django_assert_num_queries, held, queries
):
    if held:
        rollups_refresh()
    client.force_login(scene["rep"])
    client.get("/portal/reports/")
    with django_assert_num_queries(queries):
        assert client.get("/portal/reports/").status_code == 200
    TicketFactory.create_batch(3, community=scene["ours"], created_at=NOW - timedelta(days=3))
    with django_assert_num_queries(queries):
        assert client.get("/portal/reports/").status_code == 200
