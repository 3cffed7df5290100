"""/api/v1/routing/rules/: staff-only CRUD through the services, the dry run, hit counts."""

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from routing.models import RoutingDecision, RoutingRule, RuleHit
from tests.communities.factories import CommunityFactory
from tests.routing.factories import (
    AgentProfileFactory,
    CategoryFactory,
    RoutingRuleFactory,
    SkillFactory,
    TeamFactory,
)
from tests.tickets.factories import TicketFactory

pytestmark = pytest.mark.django_db

RULES = "/api/v1/routing/rules/"


def _errors(response):
    return [(e["attr"], e["code"]) for e in response.json()["errors"]]


def _snapshot():
    return (
        list(RoutingRule.objects.order_by("pk").values_list("pk", "name", "keywords", "active")),
        RoutingRule.history.count(),
    )


def test_an_agent_creates_a_rule_and_reads_it_back(api_as, agent):
    category = CategoryFactory.create(name="Deployment")
    team = TeamFactory.create(name="Helm crew")
    community = CommunityFactory.create(slug="aurora")

    response = api_as(agent).post(
        RULES,
        {
            "name": " Deployments ", "position": 10, "keywords": ["Deploy", "helm upgrade", "deploy"],
            "negative_keywords": ["docs"], "match_in": "subject", "communities": ["aurora"],
            "service_plans": [community.service_plan.slug], "channels": ["email", "api"],
            "kinds": ["incident"], "requester_is_representative": True,
            "set_category": category.pk, "raise_severity": "high", "set_tier": "expert",
            "set_team": team.pk, "add_tags": ["Helm Charts"], "stop_processing": True,
        },
        format="json",
    )  # fmt: skip

    assert response.status_code == 201, response.json()
    body = response.json()
    rule = RoutingRule.objects.get()
    assert body == {
        "id": rule.pk, "name": "Deployments", "position": 10, "active": True,
        "keywords": ["deploy", "helm upgrade"], "negative_keywords": ["docs"],
        "match_in": "subject", "communities": ["aurora"],
        "service_plans": [community.service_plan.slug], "channels": ["api", "email"],
        "kinds": ["incident"], "requester_is_representative": True,
        "set_category": {"id": category.pk, "name": "Deployment"}, "raise_severity": "high",
        "override_severity": False, "set_tier": "expert",
        "set_team": {"id": team.pk, "name": "Helm crew"}, "add_tags": ["helm-charts"],
        "stop_processing": True, "hits_30d": 0,
        "created_at": body["created_at"], "updated_at": body["updated_at"],
    }  # fmt: skip
    assert api_as(agent).get(f"{RULES}{rule.pk}/").json() == body


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"name": "Empty"},
         [("non_field_errors", "rule_without_condition"), ("non_field_errors", "rule_without_action")]),
        ({"name": "No action", "keywords": ["deploy"]}, [("non_field_errors", "rule_without_action")]),
        ({"name": "No condition", "set_tier": "expert"}, [("non_field_errors", "rule_without_condition")]),
        ({"name": "x", "keywords": "deploy", "set_tier": "expert"}, [("keywords", "not_a_list")]),
        ({"name": "x", "keywords": ["deploy", ""], "set_tier": "expert"}, [("keywords", "keyword_invalid")]),
        ({"name": "x", "keywords": ["foo*bar"], "set_tier": "expert"}, [("keywords", "keyword_invalid")]),
        ({"name": "x", "keywords": ['"open'], "set_tier": "expert"}, [("keywords", "keyword_invalid")]),
        ({"name": "x", "keywords": ["x" * 101], "set_tier": "expert"}, [("keywords", "keyword_invalid")]),
        ({"name": "x", "negative_keywords": ["*"], "set_tier": "expert"},
         [("negative_keywords", "keyword_invalid")]),
        ({"name": "x", "keywords": ["deploy"], "set_tier": "expert", "colour": "red"},
         [("colour", "unknown_field")]),
        ({"name": "x", "keywords": ["deploy"], "set_tier": "tier9"}, [("set_tier", "invalid_choice")]),
        ({"name": "x", "keywords": ["deploy"], "set_category": 999999}, [("set_category", "does_not_exist")]),
        ({"name": "x", "keywords": ["deploy"], "override_severity": True, "set_tier": "expert"},
         [("override_severity", "override_without_severity")]),
        ({"name": "x", "communities": ["nowhere"], "set_tier": "expert"}, [("communities", "does_not_exist")]),
        ({"name": "x", "channels": ["fax"], "set_tier": "expert"}, [("channels.0", "invalid_choice")]),
        ({"keywords": ["deploy"], "set_tier": "expert"}, [("name", "required")]),
    ],
)  # fmt: skip
def test_a_bad_rule_is_refused_with_field_errors_and_nothing_changes(api_as, agent, body, errors):
    RoutingRuleFactory.create(name="Existing")
    before = _snapshot()

    response = api_as(agent).post(RULES, body, format="json")

    assert response.status_code == 400
    assert _errors(response) == errors
    assert _snapshot() == before


def test_an_agent_changes_switches_off_and_deletes_a_rule(api_as, agent):
    rule = RoutingRuleFactory.create(name="Old", keywords=["deploy"], set_tier="expert")
    client = api_as(agent)

    changed = client.patch(f"{RULES}{rule.pk}/", {"keywords": ["install"], "active": False},
                           format="json")  # fmt: skip
    assert changed.status_code == 200
    assert (changed.json()["keywords"], changed.json()["active"]) == (["install"], False)
    assert [h.active for h in RoutingRule.history.filter(id=rule.pk).order_by("history_id")] == [
        True, False,
    ]  # fmt: skip

    emptied = client.patch(f"{RULES}{rule.pk}/", {"keywords": [], "set_tier": ""}, format="json")
    assert emptied.status_code == 400
    assert RoutingRule.objects.get(pk=rule.pk).keywords == ["install"]

    assert client.delete(f"{RULES}{rule.pk}/").status_code == 204
    assert not RoutingRule.objects.exists()


def test_the_rule_list_runs_in_order_with_hits_over_30_days_in_constant_queries(api_as, agent):
    first = RoutingRuleFactory.create(
        position=20, set_tier="expert", communities=[CommunityFactory.create()]
    )
    second = RoutingRuleFactory.create(position=10, set_tier="expert")
    ticket = TicketFactory.create()

    def hit(rule, days_ago):
        with time_machine.travel(timezone.now() - timedelta(days=days_ago)):
            decision = RoutingDecision.objects.create(
                ticket=ticket,
                trigger="reroute",
                severity="medium",
                tier="expert",
                outcome="waiting",
            )
            RuleHit.objects.create(rule=rule, decision=decision)

    hit(first, 1)
    hit(first, 29)
    hit(first, 31)
    hit(second, 2)
    client = api_as(agent)
    client.get(RULES)

    with CaptureQueriesContext(connection) as few:
        listed = client.get(RULES).json()
    for _ in range(5):
        RoutingRuleFactory.create(set_tier="community", communities=[CommunityFactory.create()])
    with CaptureQueriesContext(connection) as more:
        assert len(client.get(RULES).json()) == 7

    assert [(r["id"], r["hits_30d"]) for r in listed] == [(second.pk, 1), (first.pk, 2)]
    assert len(few) == len(more) == 4  # token, rules with their hits, communities, plans


def test_the_dry_run_shows_rules_result_and_agent_without_saving(api_as, agent):
    skill = SkillFactory.create(slug="security")
    category = CategoryFactory.create(name="Security", default_tier="expert")
    from routing.services.config import category_routing_set, rule_create

    category_routing_set(category=category, required_skill=skill)
    rule = rule_create(name="Security words", position=5, keywords=["rbac", "policy"],
                       set_category=category, add_tags=["security"])  # fmt: skip
    expert = AgentProfileFactory.create(tier_level=3, skills=[skill])
    community = CommunityFactory.create()
    before = (RoutingDecision.objects.count(), RuleHit.objects.count())

    response = api_as(agent).post(
        f"{RULES}test/",
        {"subject": "RBAC question", "description": "Which network policies apply? Many users blocked.",
         "community": community.slug},
        format="json",
    )  # fmt: skip

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["rules"] == [
        {"id": rule.pk, "name": "Security words", "position": 5,
         "matched": ["rbac", "policy: policies"],
         "actions": ["category → Security", "tags + security"]},
    ]  # fmt: skip
    assert {
        k: body[k] for k in ("category", "severity", "tier", "tags", "required_skill", "agent")
    } == {
        "category": {"id": category.pk, "name": "Security"},
        "severity": "high",
        "tier": "expert",
        "tags": ["security"],
        "required_skill": "security",
        "agent": {"id": expert.user_id, "name": expert.user.display_name},
    }
    assert body["severity_why"] == "raised by the severity assessment (many users)"
    assert body["severity_assessment"] == {"severity": "high", "phrases": ["many users"]}
    assert body["suggestion"] is None
    assert body["explanation"] == f"{expert.user.display_name} is the only agent who fits."
    assert (RoutingDecision.objects.count(), RuleHit.objects.count()) == before


def test_the_dry_run_wants_a_subject(api_as, agent):
    response = api_as(agent).post(f"{RULES}test/", {"description": "x"}, format="json")
    assert (response.status_code, _errors(response)) == (400, [("subject", "required")])


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", RULES, None),
        ("post", RULES, {"name": "x", "keywords": ["a1"], "set_tier": "expert"}),
        ("get", f"{RULES}{{rule}}/", None),
        ("patch", f"{RULES}{{rule}}/", {"active": False}),
        ("delete", f"{RULES}{{rule}}/", None),
        ("post", f"{RULES}test/", {"subject": "x"}),
        ("get", "/api/v1/routing/teams/", None),
        ("get", "/api/v1/routing/agents/", None),
        ("get", "/api/v1/routing/skills/", None),
        ("get", "/api/v1/routing/categories/", None),
        ("get", "/api/v1/routing/waiting/", None),
    ],
)
def test_routing_configuration_is_a_404_to_anyone_but_agents(
    api_as, representative, method, path, body
):
    rule = RoutingRuleFactory.create(set_tier="expert")
    before = _snapshot()

    response = getattr(api_as(representative), method)(
        path.format(rule=rule.pk), body, format="json"
    )

    assert response.status_code == 404
    assert response.json() == {
        "type": "client_error",
        "errors": [{"code": "not_found", "detail": "Not found.", "attr": None}],
    }
    assert _snapshot() == before


def test_signed_out_callers_are_asked_to_sign_in(api_as):
    assert api_as(None).get(RULES).status_code == 401
