from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from communities.models import Community, Membership, SupportBudget, TimeEntry
from tests.communities.factories import CommunityFactory, MembershipFactory, ServicePlanFactory
from tests.core.factories import AgentFactory, UserFactory
from tests.tickets.factories import TicketFactory

pytestmark = pytest.mark.django_db


def test_members_list_only_their_communities(api_as, community, member):
    CommunityFactory.create()

    response = api_as(member).get("/api/v1/communities/")

    assert response.status_code == 200
    assert [c["slug"] for c in response.json()] == [community.slug]


def test_agents_create_communities_and_members_may_not(api_as, agent, member):
    plan = ServicePlanFactory.create()
    body = {
        "name": "New Hub",
        "slug": "new-hub",
        "time_zone": "America/Chicago",
        "service_plan": plan.slug,
    }

    refused = api_as(member).post("/api/v1/communities/", body, format="json")
    created = api_as(agent).post("/api/v1/communities/", body, format="json")

    assert refused.status_code == 403
    assert created.status_code == 201
    assert created.json() | {"created_at": None} == {
        "slug": "new-hub", "name": "New Hub", "time_zone": "America/Chicago",
        "service_plan": plan.slug, "active": True, "created_at": None,
    }  # fmt: skip
    assert Community.objects.filter(slug="new-hub").count() == 1


def test_a_time_zone_that_is_not_iana_is_a_field_error(api_as, agent):
    plan = ServicePlanFactory.create()
    body = {"name": "X", "slug": "x", "time_zone": "Mars/Olympus", "service_plan": plan.slug}

    response = api_as(agent).post("/api/v1/communities/", body, format="json")

    assert response.status_code == 400
    assert [(e["attr"], e["code"]) for e in response.json()["errors"]] == [
        ("time_zone", "invalid_time_zone")
    ]
    assert not Community.objects.filter(slug="x").exists()


def test_a_representative_cannot_rename_their_community(api_as, community, representative):
    response = api_as(representative).patch(
        f"/api/v1/communities/{community.slug}/", {"name": "Mine now"}, format="json"
    )

    assert response.status_code == 403
    community.refresh_from_db()
    assert community.name != "Mine now"


def test_memberships_each_role_sees(api_as, community):
    representative = MembershipFactory.create(community=community, role="representative")
    member = MembershipFactory.create(community=community, role="member")
    other_member = MembershipFactory.create(community=community, role="member")

    def seen_by(user):
        response = api_as(user).get("/api/v1/memberships/")
        assert response.status_code == 200
        return sorted(m["id"] for m in response.json()["results"])

    assert seen_by(representative.user) == sorted([representative.pk, member.pk, other_member.pk])
    assert seen_by(member.user) == sorted([representative.pk, member.pk])


def test_agents_add_members_and_change_their_role(api_as, agent, community):
    person = UserFactory.create()
    client = api_as(agent)

    added = client.post(
        "/api/v1/memberships/",
        {"community": community.slug, "user": person.email.upper()},
        format="json",
    )
    again = client.post(
        "/api/v1/memberships/", {"community": community.slug, "user": person.email}, format="json"
    )
    promoted = client.patch(
        f"/api/v1/memberships/{added.json()['id']}/", {"role": "representative"}, format="json"
    )

    assert added.status_code == 201
    assert again.status_code == 409
    assert again.json()["errors"][0]["code"] == "already_member"
    assert promoted.status_code == 200
    assert Membership.objects.get(user=person).role == "representative"

    removed = client.delete(f"/api/v1/memberships/{added.json()['id']}/")
    assert removed.status_code == 204
    assert not Membership.objects.filter(user=person).exists()


def test_adding_an_unknown_person_is_a_field_error(api_as, agent, community):
    response = api_as(agent).post(
        "/api/v1/memberships/",
        {"community": community.slug, "user": "nobody@example.org"},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "user"


def test_the_budget_shows_hours_used_and_left_this_period(
    api_as, community, representative, member
):
    agent = AgentFactory.create()
    SupportBudget.objects.create(community=community, hours=Decimal("10"), period="month")
    ticket = TicketFactory.create(community=community)
    berlin = ZoneInfo("Europe/Berlin")
    TimeEntry.objects.create(ticket=ticket, community=community, agent=agent, minutes=90,
                             worked_at=datetime(2026, 3, 31, 23, 30, tzinfo=berlin))  # fmt: skip
    TimeEntry.objects.create(ticket=ticket, community=community, agent=agent, minutes=45,
                             worked_at=datetime(2026, 4, 1, 0, 30, tzinfo=berlin))  # fmt: skip

    with time_machine.travel(datetime(2026, 4, 15, 12, 0, tzinfo=berlin)):
        response = api_as(representative).get(f"/api/v1/communities/{community.slug}/budget/")
        hidden = api_as(member).get(f"/api/v1/communities/{community.slug}/budget/")

    assert response.status_code == 200
    assert response.json() == {
        "period": "month",
        "period_start": "2026-03-31T22:00:00Z",  # midnight on 1 April in Berlin
        "period_end": "2026-04-30T22:00:00Z",
        "budget_hours": "10.00",
        "used_hours": "0.75",
        "left_hours": "9.25",
    }
    assert hidden.status_code == 404


def test_agents_set_the_budget(api_as, agent, community, representative):
    response = api_as(agent).put(
        f"/api/v1/communities/{community.slug}/budget/",
        {"hours": "12.5", "period": "quarter"},
        format="json",
    )
    refused = api_as(representative).put(
        f"/api/v1/communities/{community.slug}/budget/",
        {"hours": "99", "period": "month"},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["budget_hours"] == "12.50"
    assert refused.status_code == 403
    budget = SupportBudget.objects.get(community=community)
    assert (budget.hours, budget.period) == (Decimal("12.50"), "quarter")


def test_agents_log_time_on_a_ticket_and_representatives_see_it(
    api_as, community, representative, member
):
    agent = AgentFactory.create()
    ticket = TicketFactory.create(community=community)

    logged = api_as(agent).post(
        f"/api/v1/tickets/{ticket.reference}/time-entries/",
        {"minutes": 30, "note": "triage"},
        format="json",
    )
    refused = api_as(representative).post(
        f"/api/v1/tickets/{ticket.reference}/time-entries/", {"minutes": 30}, format="json"
    )
    too_long = api_as(agent).post(
        f"/api/v1/tickets/{ticket.reference}/time-entries/", {"minutes": 24 * 60 + 1}, format="json"
    )

    assert logged.status_code == 201
    assert logged.json()["ticket"] == ticket.reference
    assert refused.status_code == 403
    assert too_long.status_code == 400
    assert [
        e["minutes"] for e in api_as(representative).get("/api/v1/time-entries/").json()["results"]
    ] == [30]
    assert api_as(member).get("/api/v1/time-entries/").json()["results"] == []
    assert TimeEntry.objects.get().community == community


def test_me_lists_my_memberships(api_as, community, representative):
    response = api_as(representative).get("/api/v1/me/")

    assert response.json() == {
        "id": representative.pk,
        "email": representative.email,
        "name": representative.display_name,
        "time_zone": "UTC",
        "is_agent": False,
        "memberships": [
            {"community": community.slug, "name": community.name, "role": "representative"}
        ],
    }


def test_a_token_for_an_email_and_password(api_as):
    person = UserFactory.create(email="Pat@Example.org")

    good = api_as(None).post(
        "/api/v1/auth/token/", {"email": "pat@example.org", "password": "pw-for-tests"}
    )
    bad = api_as(None).post("/api/v1/auth/token/", {"email": "pat@example.org", "password": "nope"})

    assert good.status_code == 200
    assert (
        api_as(None)
        .get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {good.json()['token']}")
        .json()["id"]
        == person.pk
    )
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["code"] == "authorization"


def test_service_plans_are_listed_for_anyone_signed_in(api_as, stranger):
    ServicePlanFactory.create(name="Premium", slug="premium", position=2)
    ServicePlanFactory.create(
        name="Essential", slug="essential", position=1, uptime_guarantee=Decimal("99.000"),
        downtime_credit_percent=10,
    )  # fmt: skip

    response = api_as(stranger).get("/api/v1/service-plans/")

    assert response.status_code == 200
    assert [
        (p["slug"], p["uptime_guarantee"], p["downtime_credit_percent"]) for p in response.json()
    ] == [
        ("essential", "99.000", 10),
        ("premium", "99.900", 100),
    ]
