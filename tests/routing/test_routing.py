"""Routing a ticket end to end in one process: the handler, the decision, the audit trail,
manual assignments, the waiting queue, re-routing and tier escalation."""

from typing import Any
from unittest import mock

import pytest

from core import outbox
from core.errors import Forbidden
from core.models import Event, EventDelivery
from core.outbox import delivery_run
from routing.errors import EscalationRefused, NotRoutable, ReasonRequired
from routing.models import RoutingDecision, RuleHit, TierEscalation, WaitingTicket
from routing.services import config
from routing.services.routing import (
    ticket_escalate,
    ticket_escalate_for_breach,
    ticket_reroute,
    ticket_route,
    waiting_tickets_assign,
)
from tests.communities.factories import MembershipFactory
from tests.core.factories import AgentFactory
from tests.routing.factories import AgentProfileFactory, CategoryFactory, SkillFactory, route
from tickets.models import Ticket, TicketEvent
from tickets.services.lifecycle import ticket_assign, ticket_open, ticket_transition

pytestmark = pytest.mark.django_db


@pytest.fixture
def deployment(db):
    """Seed 000's deployment category: tier community, needs the deployment skill, and the
    rule that recognises it."""
    skill = SkillFactory.create(name="Deployment", slug="deployment")
    category = config.routing_category_create(
        name="Deployment", slug="deployment", default_tier="community", required_skill=skill
    )
    rule = config.rule_create(
        name="Deployment keywords",
        position=10,
        keywords=["deploy", "install", "upgrade", "rollback"],
        set_category=category,
        add_tags=["deployment"],
    )
    return {"skill": skill, "category": category, "rule": rule}


def _open(community, requester, subject, description="", **kw):
    return ticket_open(
        community=community, requester=requester, subject=subject,
        description=description or subject, opened_by=requester, **kw,
    )  # fmt: skip


def _deliver(event_name, ticket):
    delivery = EventDelivery.objects.get(
        event__name=event_name, event__payload__ticket_id=ticket.pk, handler__startswith="routing."
    )
    assert delivery_run(delivery_id=delivery.pk) is True
    return delivery


def test_a_new_ticket_is_categorised_tiered_and_assigned_with_its_reasons(
    community, representative, deployment
):
    agent = AgentProfileFactory.create(skills=[deployment["skill"]])
    agent.user.first_name, agent.user.last_name = "Lena", "Fischer"
    agent.user.save()
    AgentProfileFactory.create()  # tier 2, but without the skill
    ticket = _open(community, representative, "Deployment fails", "helm upgrade times out")

    _deliver("ticket.opened", ticket)

    ticket.refresh_from_db()
    assert (ticket.category, ticket.severity, ticket.tier, ticket.assignee, ticket.status) == (
        deployment["category"], "medium", "community", agent.user, "assigned",
    )  # fmt: skip
    assert ticket.tags == ["deployment"]
    decision = RoutingDecision.objects.get(ticket=ticket)
    assert decision.trigger == "opened"
    assert decision.rules == [
        {
            "id": deployment["rule"].pk,
            "name": "Deployment keywords",
            "position": 10,
            "matched": ["deploy: Deployment", "upgrade"],
            "actions": ["category → Deployment", "tags + deployment"],
        }
    ]
    assert decision.category_why == "set by rule “Deployment keywords”"
    assert decision.severity_why == "as requested"
    assert decision.tier_why == "the default tier of category “Deployment”"
    assert (decision.outcome, decision.assignee) == ("assigned", agent.user)
    assert decision.explanation == "Lena Fischer is the only agent who fits."
    assert decision.before == {"category_id": None, "severity": "medium", "tier": "self_service"}
    assert sorted((c["eligible"], c["reason"]) for c in decision.candidates) == [
        (False, "lacks the skill Deployment"), (True, ""),
    ]  # fmt: skip
    assert decision.duration_ms > 0
    assert list(RuleHit.objects.values_list("rule", "matched")) == [
        (deployment["rule"].pk, ["deploy: Deployment", "upgrade"])
    ]
    audit: list[Any] = list(
        TicketEvent.objects.filter(ticket=ticket).values_list("kind", "actor", "data")
    )
    assert audit[1:] == [
        ("updated", None, {
            "changes": {"category": [None, deployment["category"].pk], "tier": ["self_service", "community"],
                        "tags": [[], ["deployment"]]},
            "reason": "Routing (rules fired: Deployment keywords)",
        }),
        ("assigned", None, {"previous": None, "assignee": agent.user.pk}),
        ("status_changed", None, {"transition": "assign", "previous": "new", "status": "assigned", "note": ""}),
    ]  # fmt: skip


def test_a_delivery_that_runs_twice_routes_once(community, representative, deployment):
    AgentProfileFactory.create(skills=[deployment["skill"]])
    ticket = _open(community, representative, "Install help")
    event = Event.objects.get(name="ticket.opened")
    from routing.handlers import route_ticket

    route_ticket(event=event)
    route_ticket(event=event)

    assert RoutingDecision.objects.filter(ticket=ticket).count() == 1
    assert TicketEvent.objects.filter(ticket=ticket, kind="assigned").count() == 1


def test_an_approved_request_is_routed_when_approved(community, member, representative):
    ticket = _open(community, member, "How do I add a package?")
    assert not EventDelivery.objects.filter(handler="routing.handlers.route_ticket").exists()

    ticket_transition(ticket=ticket, name="approve", actor=representative)
    _deliver("ticket.approved", ticket)

    decision = RoutingDecision.objects.get(ticket=ticket)
    assert (decision.trigger, decision.outcome, decision.tier) == (
        "approved",
        "waiting",
        "self_service",
    )


def test_production_down_is_critical_goes_to_emergency_and_is_announced(community, representative):
    on_call = AgentProfileFactory.create(tier_level=4)
    ticket = _open(community, representative, "Production down", "Every login returns 503")

    with mock.patch.object(outbox, "publish", wraps=outbox.publish) as published:
        ticket_route(ticket=ticket, trigger="opened")

    ticket.refresh_from_db()
    assert (ticket.severity, ticket.tier, ticket.assignee) == (
        "critical",
        "emergency",
        on_call.user,
    )
    decision = RoutingDecision.objects.get(ticket=ticket)
    assert decision.severity_why == "raised by the severity assessment (production down)"
    assert decision.severity_assessment == {"severity": "critical", "phrases": ["production down"]}
    assert decision.tier_why == "critical severity goes to the emergency tier"
    critical = [c for c in published.call_args_list if c.args == ("ticket.critical",)]
    assert [c.kwargs for c in critical] == [
        {"community_id": community.pk, "ticket_id": ticket.pk, "decision_id": decision.pk,
         "tier": "emergency"}
    ]  # fmt: skip


def test_a_requesters_critical_choice_stands_and_is_announced_once(community, representative):
    ticket = _open(community, representative, "Question", severity="critical")

    with mock.patch.object(outbox, "publish", wraps=outbox.publish) as published:
        ticket_route(ticket=ticket, trigger="opened")
        ticket_reroute(ticket=ticket, actor=AgentFactory.create())

    assert Ticket.objects.get(pk=ticket.pk).severity == "critical"
    assert [c.args[0] for c in published.call_args_list].count("ticket.critical") == 1


def test_a_manual_assignment_is_never_overwritten(community, representative, deployment):
    AgentProfileFactory.create(skills=[deployment["skill"]])
    chosen = AgentFactory.create()
    dispatcher = AgentFactory.create()
    ticket = _open(community, representative, "Rollback needed")
    ticket_assign(ticket=ticket, assignee=chosen, actor=dispatcher)

    first = route(ticket, "opened")
    again = ticket_reroute(ticket=ticket, actor=dispatcher)

    assert Ticket.objects.get(pk=ticket.pk).assignee == chosen
    assert (first.outcome, again.outcome) == ("kept", "kept")
    assert again.explanation == (
        f"Assigned by hand to {chosen.display_name}: routing never overrides a manual assignment."
    )
    assert TicketEvent.objects.filter(ticket=ticket, kind="assigned").count() == 1


def test_nobody_fits_the_ticket_waits_with_the_reason_and_is_assigned_when_room_frees(
    community, representative, deployment
):
    busy = AgentProfileFactory.create(skills=[deployment["skill"]], max_open_tickets=1)
    first = _open(community, representative, "Deploy one")
    second = _open(community, representative, "Deploy two")
    ticket_route(ticket=first, trigger="opened")

    decision = route(second, "opened")

    assert (decision.outcome, decision.assignee) == ("waiting", None)
    assert decision.explanation == (
        "Nobody in tier community with the skill Deployment can take it now (1 full); "
        "it waits in the queue."
    )
    waiting = WaitingTicket.objects.get()
    assert (waiting.ticket_id, waiting.tier, waiting.reason) == (
        second.pk,
        "community",
        decision.explanation,
    )
    assert waiting_tickets_assign() == 0

    ticket_transition(ticket=first, name="resolve", actor=busy.user)
    assert waiting_tickets_assign() == 1

    second.refresh_from_db()
    assert (second.assignee, second.status) == (busy.user, "assigned")
    assert not WaitingTicket.objects.exists()
    queued = RoutingDecision.objects.filter(ticket=second).latest("id")
    assert (queued.trigger, queued.outcome, queued.rules_ran) == ("queue", "assigned", False)
    assert queued.rules == decision.rules  # carried over from the run that sent it there


def test_an_agent_coming_back_takes_the_waiting_tickets(community, representative, deployment):
    away = AgentProfileFactory.create(skills=[deployment["skill"]], status="away")
    ticket = _open(community, representative, "Upgrade stuck")
    ticket_route(ticket=ticket, trigger="opened")
    assert WaitingTicket.objects.filter(ticket=ticket).exists()

    config.agent_profile_update(profile=away, data={"status": "available"})
    delivery = EventDelivery.objects.get(event__name="agent.capacity_changed")
    delivery_run(delivery_id=delivery.pk)

    assert Ticket.objects.get(pk=ticket.pk).assignee == away.user
    assert (delivery.handler, delivery.queue) == (
        "routing.handlers.assign_waiting_tickets",
        "routing",
    )


def test_a_waiting_ticket_assigned_by_hand_leaves_the_queue(community, representative):
    ticket = _open(community, representative, "Anything")
    ticket_route(ticket=ticket, trigger="opened")
    agent = AgentProfileFactory.create(tier_level=1)
    ticket_assign(ticket=ticket, assignee=AgentFactory.create(), actor=agent.user)

    assert waiting_tickets_assign() == 0
    assert not WaitingTicket.objects.exists()


def test_a_ticket_finished_before_routing_is_recorded_as_not_routable(community, representative):
    agent = AgentFactory.create()
    ticket = _open(community, representative, "Oops")
    ticket_transition(ticket=ticket, name="close", actor=agent)

    decision = route(ticket, "opened")

    assert (decision.outcome, decision.explanation) == (
        "not_routable", "Not routed: the ticket was already closed.",
    )  # fmt: skip
    with pytest.raises(NotRoutable):
        ticket_reroute(ticket=ticket, actor=agent)


def test_a_switched_off_rule_does_not_fire(community, representative, deployment):
    config.rule_update(rule=deployment["rule"], data={"active": False})
    ticket = _open(community, representative, "Deploy please")

    decision = route(ticket, "opened")

    assert (decision.rules, decision.category) == ([], None)


def test_reroute_runs_the_rules_again_and_keeps_a_fitting_automatic_assignment(
    community, representative, deployment
):
    AgentProfileFactory.create(skills=[deployment["skill"]])
    AgentProfileFactory.create(skills=[deployment["skill"]])
    ticket = _open(community, representative, "Deploy")
    ticket_route(ticket=ticket, trigger="opened")
    assignee = Ticket.objects.get(pk=ticket.pk).assignee
    assert assignee is not None
    dispatcher = AgentFactory.create()

    decision = ticket_reroute(ticket=ticket, actor=dispatcher)

    assert (decision.trigger, decision.actor, decision.outcome) == ("reroute", dispatcher, "kept")
    assert decision.explanation == f"{assignee.display_name} already has it and still fits."
    assert Ticket.objects.get(pk=ticket.pk).assignee == assignee
    assert RoutingDecision.objects.filter(ticket=ticket).count() == 2


def test_reroute_moves_an_automatic_assignment_when_the_rules_changed(
    community, representative, deployment
):
    AgentProfileFactory.create(skills=[deployment["skill"]])
    tier3 = AgentProfileFactory.create(tier_level=3, skills=[deployment["skill"]])
    ticket = _open(community, representative, "Deploy")
    ticket_route(ticket=ticket, trigger="opened")
    config.rule_create(name="Experts deploy", position=1, keywords=["deploy"], set_tier="expert")

    ticket_reroute(ticket=ticket, actor=AgentFactory.create())

    ticket.refresh_from_db()
    assert (ticket.tier, ticket.assignee) == ("expert", tier3.user)


def test_only_agents_reroute_and_escalate(community, representative):
    ticket = _open(community, representative, "Anything")
    with pytest.raises(Forbidden):
        ticket_reroute(ticket=ticket, actor=representative)
    with pytest.raises(Forbidden):
        ticket_escalate(ticket=ticket, direction="up", reason="x", actor=representative)


def test_escalating_moves_one_tier_with_a_reason_in_the_audit_trail(community, representative):
    tier1 = AgentProfileFactory.create(tier_level=1)
    tier2 = AgentProfileFactory.create(tier_level=2)
    ticket = _open(community, representative, "Something odd")
    ticket_route(ticket=ticket, trigger="opened")
    assert Ticket.objects.get(pk=ticket.pk).assignee == tier1.user

    with mock.patch.object(outbox, "publish", wraps=outbox.publish) as published:
        escalation = ticket_escalate(
            ticket=ticket, direction="up", reason="  Needs a cluster admin ", actor=tier1.user
        )

    ticket.refresh_from_db()
    assert (ticket.tier, ticket.assignee) == ("community", tier2.user)
    assert (escalation.from_tier, escalation.to_tier, escalation.reason, escalation.actor) == (
        "self_service", "community", "Needs a cluster admin", tier1.user,
    )  # fmt: skip
    updated = TicketEvent.objects.filter(ticket=ticket, kind="updated").latest("id")
    assert (updated.actor, updated.data) == (
        tier1.user,
        {"changes": {"tier": ["self_service", "community"]},
         "reason": "Escalated up: Needs a cluster admin"},
    )  # fmt: skip
    escalated = [c.kwargs for c in published.call_args_list if c.args == ("ticket.escalated",)]
    assert escalated == [
        {"community_id": community.pk, "ticket_id": ticket.pk, "escalation_id": escalation.pk,
         "direction": "up", "from_tier": "self_service", "to_tier": "community"}
    ]  # fmt: skip
    decision = RoutingDecision.objects.filter(ticket=ticket).latest("id")
    assert (decision.trigger, decision.outcome, decision.assignee) == (
        "escalation",
        "assigned",
        tier2.user,
    )


def test_escalating_keeps_a_manual_assignment(community, representative):
    AgentProfileFactory.create(tier_level=2)
    mine = AgentFactory.create()
    ticket = _open(community, representative, "Something odd")
    ticket_assign(ticket=ticket, assignee=mine, actor=mine)

    ticket_escalate(ticket=ticket, direction="up", reason="bigger", actor=mine)

    assert Ticket.objects.get(pk=ticket.pk).assignee == mine


def test_escalating_without_room_in_the_new_tier_unassigns_and_waits(community, representative):
    tier1 = AgentProfileFactory.create(tier_level=1)
    ticket = _open(community, representative, "Something odd")
    ticket_route(ticket=ticket, trigger="opened")

    ticket_escalate(ticket=ticket, direction="up", reason="bigger", actor=tier1.user)

    ticket.refresh_from_db()
    assert (ticket.assignee, ticket.status) == (None, "open")
    assert WaitingTicket.objects.get().tier == "community"


@pytest.mark.parametrize(("tier", "direction"), [("emergency", "up"), ("self_service", "down")])
def test_escalating_past_either_end_is_refused_and_changes_nothing(
    community, representative, tier, direction
):
    agent = AgentFactory.create()
    ticket = _open(community, representative, "Anything")
    Ticket.objects.filter(pk=ticket.pk).update(tier=tier)
    before = TicketEvent.objects.count()

    with pytest.raises(EscalationRefused):
        ticket_escalate(ticket=ticket, direction=direction, reason="more", actor=agent)

    assert Ticket.objects.get(pk=ticket.pk).tier == tier
    assert (TicketEvent.objects.count(), TierEscalation.objects.count()) == (before, 0)


def test_escalating_needs_a_reason(community, representative):
    ticket = _open(community, representative, "Anything")
    with pytest.raises(ReasonRequired):
        ticket_escalate(ticket=ticket, direction="up", reason="  ", actor=AgentFactory.create())


def test_an_sla_breach_escalates_once_per_breach(community, representative):
    ticket = _open(community, representative, "Anything")
    event = Event.objects.create(
        name="sla.breached", community_id=community.pk,
        payload={"ticket_id": ticket.pk, "metric": "first_response"},
    )  # fmt: skip
    from routing.handlers import escalate_on_sla_breach

    escalate_on_sla_breach(event=event)
    escalate_on_sla_breach(event=event)

    escalation = TierEscalation.objects.get()
    assert (escalation.to_tier, escalation.actor, escalation.reason, escalation.source_event_id) == (
        "community", None, "SLA breached: first response", event.pk,
    )  # fmt: skip
    assert Ticket.objects.get(pk=ticket.pk).tier == "community"


def test_an_sla_breach_at_the_emergency_tier_changes_nothing(community, representative):
    ticket = _open(community, representative, "Anything")
    Ticket.objects.filter(pk=ticket.pk).update(tier="emergency")

    assert ticket_escalate_for_breach(ticket_id=ticket.pk, event_id=1, reason="x") is None
    assert not TierEscalation.objects.exists()


def test_the_sla_breach_and_routing_reactions_are_in_the_event_table():
    reactions = {
        (r.event, r.handler, r.queue) for r in outbox._reactions_by_event()["sla.breached"]
    }
    assert ("sla.breached", "routing.handlers.escalate_on_sla_breach", "routing") in reactions
    opened = {(r.handler, r.queue) for r in outbox.reactions_to("ticket.opened")}
    assert ("routing.handlers.route_ticket", "routing") in opened


def test_rules_that_set_a_team_send_the_ticket_to_its_members(community, representative):
    from tests.routing.factories import TeamFactory

    AgentProfileFactory.create(tier_level=3)  # of the tier, but not in the team
    member = AgentProfileFactory.create(tier_level=1)
    team = TeamFactory.create(name="Helm crew", tier="expert", members=[member])
    config.rule_create(name="Helm", keywords=["helm"], set_team=team, set_tier="expert")
    ticket = _open(community, representative, "Helm chart question")

    decision = route(ticket, "opened")

    assert (decision.team, decision.assignee) == (team, member.user)
    assert decision.rules[0]["actions"] == ["tier → expert", "team → Helm crew"]


def test_rules_can_look_at_the_requester_and_channel(community, representative):
    member = MembershipFactory.create(community=community, role="member").user
    config.rule_create(
        name="Members by email", requester_is_representative=False, channels=["email"],
        add_tags=["member-mail"],
    )  # fmt: skip
    by_rep = _open(community, representative, "Hello", channel="email")
    ticket_route(ticket=by_rep, trigger="opened")
    by_member = _open(community, member, "Hello", channel="email")
    ticket_transition(ticket=by_member, name="approve", actor=representative)
    ticket_route(ticket=by_member, trigger="approved")

    assert Ticket.objects.get(pk=by_rep.pk).tags == []
    assert Ticket.objects.get(pk=by_member.pk).tags == ["member-mail"]


def test_the_category_is_kept_when_no_rule_sets_one(community, representative):
    category = CategoryFactory.create(default_tier="expert")
    ticket = _open(community, representative, "Hello")
    Ticket.objects.filter(pk=ticket.pk).update(category=category)

    decision = route(ticket, "opened")

    assert (decision.category, decision.category_why, decision.tier) == (
        category, "kept: no rule set a category", "expert",
    )  # fmt: skip
