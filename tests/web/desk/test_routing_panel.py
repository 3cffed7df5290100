"""The ticket page's "Why was this routed here?" panel and its two actions, Re-route and
Escalate, on tickets routed by the real routing service."""

from __future__ import annotations

import html as html_lib
import re

import pytest
from django.contrib.messages import get_messages
from django.template.defaultfilters import floatformat

from routing import learning
from routing.models import RoutingDecision, RuleHit, TierEscalation, WaitingTicket
from routing.services import config, ticket_escalate, ticket_reroute
from tests.communities.factories import MembershipFactory
from tests.routing.conftest import no_learned_model
from tests.routing.factories import AgentProfileFactory, CategoryFactory, SkillFactory, route
from tests.routing.test_learning import TOPICS
from tests.web.desk.conftest import field_errors, open_ticket, snapshot
from tickets.models import TicketEvent
from tickets.services.lifecycle import ticket_transition, ticket_update
from web.desk.panels import DEFAULT_PANELS

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures(no_learned_model.__name__)]

ROUTING_PANEL = "web.desk.routing.routing_panel"


def page(desk, ticket) -> str:
    response = desk.get(f"/desk/tickets/{ticket.reference}/")
    assert response.status_code == 200
    return str(response.content.decode())


def post(desk, ticket, action: str, data: dict[str, object]):
    return desk.post(f"/desk/tickets/{ticket.reference}/{action}/", data)


def notices(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def panel_text(html: str) -> str:
    """The routing panel's text, tags dropped and white space collapsed."""
    match = re.search(
        r'<section class="panel" aria-labelledby="panel-why-was-this-routed-here">\s*'
        r'<h2 id="panel-why-was-this-routed-here">Why was this routed here\?</h2>(.*?)</section>',
        html,
        re.S,
    )
    assert match, "no routing panel on the page"
    text = re.sub(r"\s+", " ", html_lib.unescape(re.sub(r"<[^>]+>", " ", match.group(1))))
    return re.sub(r" ([:;,.])", r"\1", text).strip()


def routing_rows() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (RoutingDecision, TierEscalation, WaitingTicket, RuleHit)
    }


def _named(profile, first: str, last: str):
    profile.user.first_name, profile.user.last_name = first, last
    profile.user.save()
    return profile


@pytest.fixture
def deployment(db):
    """Seed 000's deployment category (tier community, needs the deployment skill), the rule
    that recognises it, a tier 2 agent with the skill and one without."""
    skill = SkillFactory.create(name="Deployment", slug="deployment")
    category = config.routing_category_create(
        name="Deployment", slug="deployment", default_tier="community", required_skill=skill
    )
    rule = config.rule_create(
        name="Deployment keywords",
        position=10,
        keywords=["deploy", "upgrade"],
        set_category=category,
        add_tags=["deployment"],
    )
    lena = _named(AgentProfileFactory.create(skills=[skill]), "Lena", "Fischer")
    omar = _named(AgentProfileFactory.create(), "Omar", "Haddad")
    return {"skill": skill, "category": category, "rule": rule, "lena": lena, "omar": omar}


@pytest.fixture
def routed(community, representative, deployment):
    """A ticket routed on opening by routing.services.ticket_route: to Lena Fischer."""
    ticket = open_ticket(
        community,
        subject="Deployment fails",
        description="The helm upgrade is slow and then times out.",
        requester=representative,
    )
    route(ticket)
    ticket.refresh_from_db()
    assert (ticket.tier, ticket.assignee) == ("community", deployment["lena"].user)
    return ticket


# ---------------------------------------------------------------- the panel


def test_the_panel_explains_the_decision_of_the_routing_service(desk, routed):
    decision = RoutingDecision.objects.get(ticket=routed)

    text = panel_text(page(desk, routed))

    duration = floatformat(decision.duration_ms, 1)
    assert text.startswith(f"Ticket opened just now · {duration} ms Assigned ")
    assert (
        "Assigned Lena Fischer Lena Fischer is the only agent who fits. "
        "Rules Deployment keywords matched deploy: Deployment, upgrade "
        "did category → Deployment; tags + deployment "
        "Severity assessment Found: slow "
        "Result "
        "Category Deployment · set by rule “Deployment keywords” "
        "Severity Medium (P3) · as requested "
        "Tier Community · the default tier of category “Deployment” "
        "Tags added deployment "
        "Candidates 1 of 2 could take it. "
        "Lena Fischer Chosen tier level 2 · 0 of 10 open · rank 1 "
        "Omar Haddad Could not tier level 2 · 0 of 10 open lacks the skill Deployment "
        "Re-route"
    ) in text
    assert "Not routed yet" not in text
    assert "Earlier:" not in text  # nothing earlier to show
    assert "Learned suggestion" not in text  # no model in tests


def test_the_learned_suggestion_shows_its_confidence_and_the_words_behind_it(
    desk, settings, community, representative
):
    texts = [text for phrases in TOPICS.values() for text in phrases]
    labels = [label for label, phrases in TOPICS.items() for _ in phrases]
    learning.save(learning.train(texts, labels), settings.ROUTING_MODEL_PATH)
    CategoryFactory.create(name="Storage", slug="storage")
    settings.ROUTING_SUGGESTION_MIN_CONFIDENCE = 0.3
    ticket = open_ticket(
        community, subject="Disk quota full", description="disk quota", requester=representative
    )
    suggestion = route(ticket).suggestion
    assert suggestion is not None
    assert (suggestion["label"], suggestion["used"]) == ("storage", True)

    text = panel_text(page(desk, ticket))

    sure = re.search(
        r"Learned suggestion Storage, (\d+) % sure Used words (.+?) model (\d+) ", text
    )
    assert sure, text
    assert sure.groups() == (
        str(round(suggestion["confidence"] * 100)),
        ", ".join(suggestion["words"]),
        suggestion["model_version"],
    )
    assert "Category Storage · suggested by the learned model (" in text


def test_a_ticket_not_routed_yet_says_so_and_offers_the_actions(desk):
    ticket = open_ticket(subject="Pods stuck in pending")

    text = panel_text(page(desk, ticket))

    assert text == (
        "Not routed yet. Re-route Direction * Up one tier Down one tier "
        "Reason * Kept in the ticket's history. Escalate"
    )


def test_badges_carry_their_meaning_in_words(desk, routed):
    html = page(desk, routed)

    assert '<span class="badge badge-routing-assigned">Assigned</span>' in html
    assert '<span class="badge badge-routing-chosen">Chosen</span>' in html
    assert '<span class="badge badge-routing-ineligible">Could not</span>' in html


# ---------------------------------------------------------------- re-route


def test_reroute_records_a_new_decision_and_says_what_happened(desk, agent, routed):
    response = post(desk, routed, "reroute", {})

    assert (response.status_code, response["Location"]) == (
        302,
        f"/desk/tickets/{routed.reference}/",
    )
    assert notices(response) == ["Re-routed to the community tier: it stays with Lena Fischer."]
    latest, first = RoutingDecision.objects.filter(ticket=routed).order_by("-id")
    assert (latest.trigger, latest.actor, latest.outcome) == ("reroute", agent, "kept")
    assert first.trigger == "opened"
    text = panel_text(page(desk, routed))
    assert text.startswith(f"Re-routed by an agent ({agent.display_name}) just now")
    assert (
        "Earlier: 1 decision, 0 tier escalations "
        "Ticket opened just now: Community tier, assigned (Lena Fischer)"
    ) in text


def test_reroute_of_a_finished_ticket_is_refused_and_changes_nothing(desk, agent, routed):
    ticket_transition(ticket=routed, name="resolve", actor=agent)
    before, rows = snapshot(), routing_rows()

    response = post(desk, routed, "reroute", {})

    assert response.status_code == 400
    assert re.search(
        rf'<div class="form-errors" role="alert">\s*<p>{routed.reference} is resolved.</p>',
        response.content.decode(),
    )
    assert (snapshot(), routing_rows()) == (before, rows)


# ---------------------------------------------------------------- escalate


def test_escalating_up_moves_the_tier_and_keeps_the_reason(desk, agent, routed):
    response = post(desk, routed, "escalate", {"direction": "up", "reason": "Needs an expert"})

    assert response.status_code == 302
    assert notices(response) == ["Escalated up: Community → Expert."]
    routed.refresh_from_db()
    assert (routed.tier, routed.assignee) == ("expert", None)
    escalation = TierEscalation.objects.get(ticket=routed)
    assert (
        escalation.direction,
        escalation.from_tier,
        escalation.to_tier,
        escalation.reason,
        escalation.actor,
    ) == ("up", "community", "expert", "Needs an expert", agent)
    assert TicketEvent.objects.filter(ticket=routed, kind="updated", actor=agent).get().data == {
        "changes": {"tier": ["community", "expert"]},
        "reason": "Escalated up: Needs an expert",
    }
    latest = RoutingDecision.objects.filter(ticket=routed).order_by("-id").first()
    assert latest is not None
    assert (latest.trigger, latest.outcome, latest.tier) == ("escalation", "waiting", "expert")
    text = panel_text(page(desk, routed))
    assert (
        "Waiting for an agent "
        f"Waiting in the expert tier queue since just now because: {latest.explanation} "
    ) in text
    assert (
        "Earlier: 1 decision, 1 tier escalation "
        "Ticket opened just now: Community tier, assigned (Lena Fischer) "
        f"Community → Expert by {agent.display_name}: Needs an expert"
    ) in text


@pytest.mark.parametrize("reason", ["", "   "])
def test_escalating_without_a_reason_is_refused_beside_the_field(desk, routed, reason):
    before, rows = snapshot(), routing_rows()

    response = post(desk, routed, "escalate", {"direction": "up", "reason": reason})

    assert response.status_code == 400
    assert field_errors(response.content.decode(), "escalate_reason") == [
        "Say why the ticket changes tier."
    ]
    assert (snapshot(), routing_rows()) == (before, rows)


def test_escalating_past_emergency_is_refused_and_changes_nothing(desk, agent, routed):
    ticket_update(ticket=routed, actor=agent, data={"tier": "emergency"}, reason="Outage")
    before, rows = snapshot(), routing_rows()

    response = post(desk, routed, "escalate", {"direction": "up", "reason": "Even higher"})

    assert response.status_code == 400
    html = response.content.decode()
    assert re.search(
        r'<div class="form-errors" role="alert">\s*'
        rf"<p>{routed.reference} is at the emergency tier: there is no tier above emergency.</p>",
        html,
    )
    assert field_errors(html, "escalate_reason") == []
    assert (snapshot(), routing_rows()) == (before, rows)


def test_escalating_in_an_unknown_direction_is_refused_beside_the_field(desk, routed):
    before, rows = snapshot(), routing_rows()

    response = post(desk, routed, "escalate", {"direction": "sideways", "reason": "Why not"})

    assert response.status_code == 400
    assert field_errors(response.content.decode(), "escalate_direction") == [
        "Select a valid choice. sideways is not one of the available choices."
    ]
    assert (snapshot(), routing_rows()) == (before, rows)


# ---------------------------------------------------------------- who may


@pytest.mark.parametrize("who", ["other community", "member", "requester"])
@pytest.mark.parametrize(
    ("method", "action", "data"),
    [
        ("get", "", {}),
        ("post", "reroute/", {}),
        ("post", "escalate/", {"direction": "up", "reason": "Needs an expert"}),
    ],
)
def test_people_who_are_not_agents_get_404_and_change_nothing(
    client, routed, outsider, who, method, action, data
):
    person = {
        "other community": outsider,
        "member": MembershipFactory.create(community=routed.community, role="member").user,
        "requester": routed.requester,
    }[who]
    client.force_login(person)
    before, rows = snapshot(), routing_rows()

    response = getattr(client, method)(f"/desk/tickets/{routed.reference}/{action}", data)

    assert response.status_code == 404
    assert (snapshot(), routing_rows()) == (before, rows)


# ---------------------------------------------------------------- queries


def _grow_history(ticket, agent, *, escalations: int) -> None:
    """More decisions, tier escalations and candidates for the panel to show."""
    AgentProfileFactory.create_batch(3, tier_level=3)
    for _ in range(escalations):
        ticket_escalate(ticket=ticket, direction="up", reason="Bigger", actor=agent)
    ticket_reroute(ticket=ticket, actor=agent)


# The ticket page of a routed ticket with a history: 16 queries for the page and the desk's
# own panels (the community's budget read once for the header and its panel, the
# satisfaction panel in one), 2 for the SLA panel of a ticket whose clocks have not run (its
# TicketSLA, its clocks), and 5 for the routing panel (routing_decision_latest's four, then
# the earlier decisions).
PAGE_QUERIES = 24  # with the incidents panel's one


def test_the_ticket_page_pins_its_queries(desk, agent, routed, django_assert_num_queries):
    _grow_history(routed, agent, escalations=1)

    with django_assert_num_queries(PAGE_QUERIES):
        page(desk, routed)


def test_the_routing_panel_costs_five_queries_however_long_the_history(
    desk, agent, routed, settings, django_assert_num_queries
):
    _grow_history(routed, agent, escalations=3)

    with django_assert_num_queries(PAGE_QUERIES):
        page(desk, routed)
    settings.DESK_TICKET_PANELS = [path for path in DEFAULT_PANELS if path != ROUTING_PANEL]
    with django_assert_num_queries(PAGE_QUERIES - 5):
        page(desk, routed)


# ---------------------------------------------------------------- collisions and re-routing


def test_a_stale_escalation_is_refused_with_what_changed(desk, agent, routed, deployment):
    seen = TicketEvent.objects.filter(ticket=routed).latest("pk").pk
    other = deployment["omar"].user
    ticket_update(
        ticket=routed, actor=other, data={"severity": "high"}, reason="Customers are waiting"
    )
    before, rows = snapshot(), routing_rows()

    response = post(
        desk, routed, "escalate", {"direction": "up", "reason": "Too hard", "seen_event_id": seen}
    )

    assert response.status_code == 409
    assert f"<strong>{other.display_name}</strong> changed" in response.content.decode()
    assert (snapshot(), routing_rows()) == (before, rows)
    routed.refresh_from_db()
    assert routed.tier == "community"


def test_a_stale_reroute_is_refused_and_changes_nothing(desk, agent, routed, deployment):
    seen = TicketEvent.objects.filter(ticket=routed).latest("pk").pk
    ticket_update(ticket=routed, actor=deployment["omar"].user, data={"tags": ["urgent"]})
    before, rows = snapshot(), routing_rows()

    response = post(desk, routed, "reroute", {"seen_event_id": seen})

    assert response.status_code == 409
    assert (snapshot(), routing_rows()) == (before, rows)


def test_a_reroute_keeps_the_tier_the_ticket_was_escalated_to(desk, agent, routed):
    ticket_escalate(ticket=routed, direction="up", reason="Needs an expert", actor=agent)

    response = post(desk, routed, "reroute", {})

    assert response.status_code == 302
    routed.refresh_from_db()
    assert routed.tier == "expert"
    latest = RoutingDecision.objects.filter(ticket=routed).latest("pk")
    assert (latest.trigger, latest.tier, latest.tier_why) == (
        "reroute",
        "expert",
        "Kept at expert: escalated up (Needs an expert)",
    )
