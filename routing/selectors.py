"""Reads of routing: the rules as the engine sees them, the configuration lists, and the
explanation of a ticket's routing that the desk's "Why was this routed here?" panel shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db.models import Count, Max, Prefetch, Q, QuerySet
from django.utils import timezone

from communities.models import Community, ServicePlan
from routing import matching
from routing.models import (
    AgentProfile,
    CategoryRouting,
    RoutingDecision,
    RoutingRule,
    Skill,
    Team,
    TierEscalation,
    WaitingTicket,
)
from tickets.models import Category, Severity, Tier

if TYPE_CHECKING:
    from tickets.models import Ticket

HIT_WINDOW = timedelta(days=30)


def rule_list() -> QuerySet[RoutingRule]:
    """Every rule in the order they run, with its hits over the last 30 days
    (`hits_30d`), in a fixed number of queries."""
    since = timezone.now() - HIT_WINDOW
    return (
        RoutingRule.objects.select_related("set_category", "set_team")
        .prefetch_related("communities", "service_plans")
        .annotate(hits_30d=Count("hits", filter=Q(hits__created_at__gte=since)))
        .order_by("position", "id")
    )


def as_engine_rule(rule: RoutingRule) -> matching.Rule:
    """The engine's view of a rule (its communities and plans prefetched or queried)."""
    return matching.Rule(
        id=rule.pk or 0,
        name=rule.name,
        position=rule.position,
        keywords=tuple(rule.keywords),
        negative_keywords=tuple(rule.negative_keywords),
        match_in=rule.match_in,
        community_ids=frozenset(c.pk for c in rule.communities.all()) if rule.pk else frozenset(),
        service_plan_ids=(
            frozenset(p.pk for p in rule.service_plans.all()) if rule.pk else frozenset()
        ),
        channels=frozenset(rule.channels),
        kinds=frozenset(rule.kinds),
        requester_is_representative=rule.requester_is_representative,
        actions=matching.RuleActions(
            category_id=rule.set_category_id,
            raise_severity=rule.raise_severity,
            override_severity=rule.override_severity,
            tier=rule.set_tier,
            team_id=rule.set_team_id,
            tags=tuple(rule.add_tags),
            stop_processing=rule.stop_processing,
        ),
    )


_engine_rules: tuple[tuple[object, ...], list[matching.Rule]] | None = None


def active_rules() -> list[matching.Rule]:
    """The active rules as the engine sees them. Each process keeps them until a rule is
    added, changed (every change through the services moves `updated_at`) or deleted, so a
    routing run costs one small query for them instead of three."""
    global _engine_rules  # a per-process cache, replaced whole
    version = tuple(
        RoutingRule.objects.aggregate(
            n=Count("id"), changed=Max("updated_at"), newest=Max("id")
        ).values()
    )
    cached = _engine_rules
    if cached is not None and cached[0] == version:
        return cached[1]
    rules = RoutingRule.objects.filter(active=True).prefetch_related(
        Prefetch("communities", queryset=Community.objects.only("pk")),
        Prefetch("service_plans", queryset=ServicePlan.objects.only("pk")),
    )
    engine_rules = [as_engine_rule(rule) for rule in rules.order_by("position", "id")]
    _engine_rules = (version, engine_rules)
    return engine_rules


def skill_list() -> QuerySet[Skill]:
    return Skill.objects.all()


def team_list() -> QuerySet[Team]:
    return Team.objects.prefetch_related(
        Prefetch("members", queryset=AgentProfile.objects.select_related("user").order_by("pk"))
    )


def agent_profile_list() -> QuerySet[AgentProfile]:
    return AgentProfile.objects.select_related("user", "substitute__user").prefetch_related(
        "skills", Prefetch("teams", queryset=Team.objects.only("pk", "name"))
    )


def category_list() -> QuerySet[Category]:
    """Categories with their routing (the skill they need) and parent."""
    return Category.objects.select_related("parent", "routing__required_skill").order_by(
        "name", "id"
    )


def category_with_skill(category_id: int) -> Category | None:
    """The category with its routing and required skill, in one query."""
    return Category.objects.select_related("routing__required_skill").filter(pk=category_id).first()


def required_skill_of(category: Category | None) -> Skill | None:
    """The skill `category` needs; no query when it came from category_with_skill()."""
    if category is None:
        return None
    try:
        routing = category.routing
    except CategoryRouting.DoesNotExist:
        return None
    return routing.required_skill


def category_required_skill(category_id: int | None) -> Skill | None:
    if category_id is None:
        return None
    routing = (
        CategoryRouting.objects.select_related("required_skill")
        .filter(category_id=category_id)
        .first()
    )
    return routing.required_skill if routing else None


def waiting_list(*, tier: str | None = None) -> QuerySet[WaitingTicket]:
    """Tickets waiting for an agent, oldest first."""
    waiting = WaitingTicket.objects.select_related("ticket", "team")
    return waiting.filter(tier=tier) if tier else waiting


def decisions_for(ticket: Ticket) -> QuerySet[RoutingDecision]:
    return RoutingDecision.objects.filter(ticket=ticket).select_related(
        "category", "team", "assignee", "actor"
    )


# ---------------------------------------------------------------- the desk's panel


@dataclass(frozen=True)
class FiredRule:
    id: int | None
    name: str
    matched: tuple[str, ...]
    actions: tuple[str, ...]


@dataclass(frozen=True)
class CandidateRow:
    agent_id: int
    name: str
    tier_level: int
    eligible: bool
    reason: str
    load: int
    capacity: int
    rank: int | None
    community_worked_at: str | None
    affinity_via: str


@dataclass(frozen=True)
class LearnedSuggestion:
    label: str
    category: str | None
    confidence: float
    threshold: float
    used: bool
    words: tuple[str, ...]
    model_version: str


@dataclass(frozen=True)
class RoutingExplanation:
    """What "Why was this routed here?" shows, ready to render."""

    decision_id: int
    decided_at: datetime
    trigger: str  # label, e.g. "Ticket opened"
    actor: str | None
    rules_ran: bool
    rules: tuple[FiredRule, ...]
    stopped_by: str
    severity_phrases: tuple[str, ...]
    category: str | None
    category_why: str
    severity: str  # label, e.g. "High (P2)"
    severity_why: str
    tier: str  # label
    tier_why: str
    team: str | None
    tags_added: tuple[str, ...]
    outcome: str  # label
    assignee: str | None
    explanation: str  # why the winner won, or why nobody could take it
    candidates: tuple[CandidateRow, ...]
    suggestion: LearnedSuggestion | None
    duration_ms: float
    waiting_since: datetime | None
    earlier_runs: int
    escalations: tuple[str, ...]  # "expert → engineering by Ravi Iyer: reason", newest first


def routing_decision_latest(ticket: Ticket) -> RoutingExplanation | None:
    """The latest routing decision of `ticket`, explained; None before the first run.
    Staff only: the caller has checked that the viewer is an agent. Four queries."""
    decisions = list(decisions_for(ticket).order_by("-created_at", "-id")[:1])
    if not decisions:
        return None
    decision = decisions[0]
    earlier = RoutingDecision.objects.filter(ticket=ticket).count() - 1
    waiting = WaitingTicket.objects.filter(ticket=ticket).values_list("since", flat=True).first()
    escalations = [
        f"{Tier(e.from_tier).label} → {Tier(e.to_tier).label}"
        f" by {e.actor.display_name if e.actor else 'the system'}: {e.reason}"
        for e in TierEscalation.objects.filter(ticket=ticket).select_related("actor")[:10]
    ]
    return explain(decision, waiting_since=waiting, earlier_runs=earlier, escalations=escalations)


def explain(
    decision: RoutingDecision,
    *,
    waiting_since: datetime | None = None,
    earlier_runs: int = 0,
    escalations: list[str] | None = None,
) -> RoutingExplanation:
    suggestion = None
    if decision.suggestion:
        s = decision.suggestion
        suggestion = LearnedSuggestion(
            label=s["label"],
            category=s.get("category"),
            confidence=s["confidence"],
            threshold=s["threshold"],
            used=s["used"],
            words=tuple(s.get("words", ())),
            model_version=s.get("model_version", ""),
        )
    return RoutingExplanation(
        decision_id=decision.pk,
        decided_at=decision.created_at,
        trigger=decision.get_trigger_display(),
        actor=decision.actor.display_name if decision.actor else None,
        rules_ran=decision.rules_ran,
        rules=tuple(
            FiredRule(r.get("id"), r["name"], tuple(r["matched"]), tuple(r["actions"]))
            for r in decision.rules
        ),
        stopped_by=decision.stopped_by,
        severity_phrases=tuple(decision.severity_assessment.get("phrases", ())),
        category=decision.category.name if decision.category else None,
        category_why=decision.category_why,
        severity=Severity(decision.severity).label,
        severity_why=decision.severity_why,
        tier=Tier(decision.tier).label,
        tier_why=decision.tier_why,
        team=decision.team.name if decision.team else None,
        tags_added=tuple(decision.tags_added),
        outcome=decision.get_outcome_display(),
        assignee=decision.assignee.display_name if decision.assignee else None,
        explanation=decision.explanation,
        candidates=tuple(
            CandidateRow(
                agent_id=c["agent_id"],
                name=c["name"],
                tier_level=c["tier_level"],
                eligible=c["eligible"],
                reason=c["reason"],
                load=c["load"],
                capacity=c["capacity"],
                rank=c["rank"],
                community_worked_at=c["community_worked_at"],
                affinity_via=c["affinity_via"],
            )
            for c in decision.candidates
        ),
        suggestion=suggestion,
        duration_ms=decision.duration_ms,
        waiting_since=waiting_since,
        earlier_runs=earlier_runs,
        escalations=tuple(escalations or ()),
    )


def rule_hits(*, rule: RoutingRule, days: int = 30) -> int:
    since = timezone.now() - timedelta(days=days)
    return rule.hits.filter(created_at__gte=since).count()
