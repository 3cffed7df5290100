"""Skills, categories, teams and agent profiles over the API (agents only, via services)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.models import EventDelivery
from routing.models import AgentProfile, CategoryRouting, Team
from tests.core.factories import AgentFactory, UserFactory
from tests.routing.factories import AgentProfileFactory, CategoryFactory, SkillFactory, TeamFactory

pytestmark = pytest.mark.django_db


def test_skills_and_categories_with_the_skill_they_need(api_as, agent):
    client = api_as(agent)
    skill = client.post("/api/v1/routing/skills/", {"name": "Security", "slug": "security"},
                        format="json")  # fmt: skip
    assert skill.status_code == 201

    created = client.post(
        "/api/v1/routing/categories/",
        {"name": "Security", "slug": "security", "default_tier": "expert", "required_skill": "security"},
        format="json",
    )  # fmt: skip

    assert created.status_code == 201, created.json()
    body = created.json()
    assert body == {
        "id": body["id"], "name": "Security", "slug": "security", "parent": None,
        "default_tier": "expert", "active": True, "required_skill": "security",
    }  # fmt: skip
    cleared = client.patch(f"/api/v1/routing/categories/{body['id']}/", {"required_skill": None},
                           format="json")  # fmt: skip
    assert cleared.json()["required_skill"] is None
    assert CategoryRouting.objects.get(category_id=body["id"]).required_skill is None


def test_the_category_list_reads_in_constant_queries(api_as, agent):
    client = api_as(agent)
    skill = SkillFactory.create()
    from routing.services.config import category_routing_set

    for _ in range(2):
        category_routing_set(category=CategoryFactory.create(), required_skill=skill)
    client.get("/api/v1/routing/categories/")
    with CaptureQueriesContext(connection) as few:
        client.get("/api/v1/routing/categories/")
    for _ in range(4):
        category_routing_set(category=CategoryFactory.create(), required_skill=skill)
    with CaptureQueriesContext(connection) as more:
        assert len(client.get("/api/v1/routing/categories/").json()) == 6
    assert len(few) == len(more) == 2


def test_agent_profiles_are_created_changed_and_listed_by_agent_id(api_as, agent):
    SkillFactory.create(slug="security")
    stand_in = AgentProfileFactory.create()
    newcomer = AgentFactory.create(first_name="Ravi", last_name="Iyer")
    client = api_as(agent)

    created = client.post(
        "/api/v1/routing/agents/",
        {"agent": newcomer.pk, "tier_level": 3, "skills": ["security"], "max_open_tickets": 4,
         "time_zone": "Asia/Kolkata", "work_days": [5, 1, 1], "work_starts": "09:00",
         "work_ends": "17:30", "substitute": stand_in.user_id},
        format="json",
    )  # fmt: skip

    assert created.status_code == 201, created.json()
    assert created.json() == {
        "agent": {"id": newcomer.pk, "name": "Ravi Iyer"}, "email": newcomer.email,
        "tier_level": 3, "skills": ["security"], "teams": [], "max_open_tickets": 4,
        "time_zone": "Asia/Kolkata", "work_days": [1, 5], "work_starts": "09:00:00",
        "work_ends": "17:30:00", "status": "available",
        "substitute": {"id": stand_in.user_id, "name": stand_in.user.display_name},
        "last_assigned_at": None,
    }  # fmt: skip
    away = client.patch(f"/api/v1/routing/agents/{newcomer.pk}/", {"status": "away"}, format="json")
    assert away.json()["status"] == "away"
    back = client.patch(f"/api/v1/routing/agents/{newcomer.pk}/", {"status": "available"},
                        format="json")  # fmt: skip
    assert back.json()["status"] == "available"
    # Created available, then back from away: routing is told twice to look at the queue.
    assert (
        EventDelivery.objects.filter(handler="routing.handlers.assign_waiting_tickets").count() == 2
    )


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"tier_level": 5}, [("tier_level", "max_value")]),
        ({"time_zone": "Mars/Olympus"}, [("time_zone", "invalid_time_zone")]),
        ({"work_starts": "09:00"}, [("__all__", "work_hours_both_or_neither")]),
        ({"skills": ["nope"]}, [("skills", "does_not_exist")]),
        ({"substitute": 999999}, [("substitute", "does_not_exist")]),
        ({"status": "asleep"}, [("status", "invalid_choice")]),
    ],
)
def test_a_bad_profile_change_is_a_400_and_changes_nothing(api_as, agent, body, errors):
    profile = AgentProfileFactory.create()
    before = list(
        AgentProfile.objects.values_list("tier_level", "time_zone", "status", "work_starts")
    )

    response = api_as(agent).patch(
        f"/api/v1/routing/agents/{profile.user_id}/", body, format="json"
    )

    assert response.status_code == 400
    assert [(e["attr"], e["code"]) for e in response.json()["errors"]] == errors
    assert (
        list(AgentProfile.objects.values_list("tier_level", "time_zone", "status", "work_starts"))
        == before
    )


def test_only_agents_get_a_profile(api_as, agent):
    member = UserFactory.create()
    response = api_as(agent).post("/api/v1/routing/agents/", {"agent": member.pk}, format="json")
    assert [(e["attr"], e["code"]) for e in response.json()["errors"]] == [
        ("agent", "does_not_exist")
    ]


def test_teams_with_their_members(api_as, agent):
    first = AgentProfileFactory.create()
    second = AgentProfileFactory.create()
    client = api_as(agent)

    created = client.post("/api/v1/routing/teams/",
                          {"name": "Helm crew", "tier": "expert", "members": [first.user_id]},
                          format="json")  # fmt: skip
    assert created.status_code == 201
    team_id = created.json()["id"]
    changed = client.patch(f"/api/v1/routing/teams/{team_id}/",
                           {"members": [second.user_id, first.user_id]}, format="json")  # fmt: skip

    assert changed.json() == {
        "id": team_id, "name": "Helm crew", "tier": "expert",
        "members": [{"id": first.user_id, "name": first.user.display_name},
                    {"id": second.user_id, "name": second.user.display_name}],
    }  # fmt: skip
    refused = client.post("/api/v1/routing/teams/", {"name": "Helm crew", "tier": "expert"},
                          format="json")  # fmt: skip
    assert [(e["attr"], e["code"]) for e in refused.json()["errors"]] == [("name", "unique")]
    assert Team.objects.count() == 1


def test_the_team_and_agent_lists_read_in_constant_queries(api_as, agent):
    client = api_as(agent)

    def counts():
        client.get("/api/v1/routing/teams/")
        with CaptureQueriesContext(connection) as teams:
            client.get("/api/v1/routing/teams/")
        with CaptureQueriesContext(connection) as agents:
            client.get("/api/v1/routing/agents/")
        return len(teams), len(agents)

    skill = SkillFactory.create()
    TeamFactory.create(members=[AgentProfileFactory.create(skills=[skill])])
    few = counts()
    for _ in range(3):
        sub = AgentProfileFactory.create(skills=[skill])
        TeamFactory.create(
            members=[AgentProfileFactory.create(substitute=sub, skills=[skill]), sub]
        )
    assert counts() == few == (3, 4)
