"""Routing a ticket: rules, severity and tier, the learned suggestion, the assignment, and
the decision that records why. Also re-routing, tier escalation and the waiting queue.

Every function here is atomic. The ticket's row is locked first, then (in assignment) the
profile row of the agent who gets it (assignment.claim), which is where capacity is kept.
The ticket's fields change only through tickets.services (ticket_update, ticket_assign),
so the audit trail and history show each change; `actor` None there is the system.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from communities.selectors import membership_get
from core import outbox
from core.errors import Forbidden
from routing import matching
from routing.errors import EscalationRefused, NotRoutable, ReasonRequired
from routing.models import (
    AgentProfile,
    RoutingDecision,
    RuleHit,
    Skill,
    Team,
    TierEscalation,
    WaitingTicket,
)
from routing.selectors import (
    active_rules,
    category_required_skill,
    category_with_skill,
    required_skill_of,
)
from routing.services.assignment import Batch, Pick, choose, claim
from routing.services.learned import CategorySuggestion, category_suggest
from tickets.models import Category, Severity, Ticket, TicketEvent, Tier
from tickets.services.common import is_agent, refuse_if_changed
from tickets.services.lifecycle import ticket_assign, ticket_update
from tickets.states import ACTIVE

if TYPE_CHECKING:
    from communities.models import Community
    from core.models import User

logger = logging.getLogger(__name__)

FIRST_RUN = (RoutingDecision.Trigger.OPENED, RoutingDecision.Trigger.APPROVED)
ROUTABLE = ACTIVE
_CANDIDATES_KEPT = 50


# ---------------------------------------------------------------- the plan (no writes)


@dataclass
class Plan:
    """What the rules, the assessment and the model say, before anything is written."""

    facts: matching.Facts
    outcome: matching.RulesOutcome
    fired: list[dict[str, Any]]
    suggestion: CategorySuggestion | None
    suggestion_used: bool
    category: Category | None
    category_why: str
    severity: str
    severity_why: str
    tier: str
    tier_why: str
    team: Team | None
    tags: list[str]  # to add
    required_skill: Skill | None
    complex_terms: list[str] = field(default_factory=list)

    def suggestion_dict(self) -> dict[str, Any] | None:
        return self.suggestion.as_dict(used=self.suggestion_used) if self.suggestion else None


def facts_for(ticket: Ticket, rules: list[matching.Rule]) -> matching.Facts:
    # The requester's role is looked up only when a rule asks about it.
    representative = True
    if any(r.requester_is_representative is not None for r in rules):
        membership = membership_get(user=ticket.requester, community_id=ticket.community_id)
        representative = bool(membership and membership.is_representative)
    return matching.Facts(
        subject=ticket.subject,
        description=ticket.description,
        community_id=ticket.community_id,
        service_plan_id=ticket.community.service_plan_id,
        channel=ticket.channel,
        kind=ticket.kind,
        requester_is_representative=representative,
        severity=ticket.severity,
    )


def routing_plan(
    *,
    facts: matching.Facts,
    current_category: Category | None = None,
    current_tags: list[str] | None = None,
    rules: list[matching.Rule] | None = None,
) -> Plan:
    outcome = matching.evaluate(active_rules() if rules is None else rules, facts)
    names = _action_names(outcome)
    fired = [
        {
            "id": f.rule.id or None,
            "name": f.rule.name,
            "position": f.rule.position,
            "matched": list(f.matched),
            "actions": f.rule.actions.describe(names),
        }
        for f in outcome.fired
    ]
    suggestion = category_suggest(subject=facts.subject, description=facts.description)
    suggestion_used = False
    category: Category | None
    if outcome.category_id is not None:
        category = category_with_skill(outcome.category_id)
        category_why = f"set by rule “{outcome.category_rule}”"
    elif suggestion is not None and suggestion.usable:
        category, suggestion_used = suggestion.category, True
        category_why = (
            f"suggested by the learned model ({suggestion.suggestion.confidence:.0%} ≥ "
            f"{suggestion.threshold:.0%}; words: {', '.join(suggestion.suggestion.words)})"
        )
    elif current_category is not None:
        category, category_why = current_category, "kept: no rule set a category"
    else:
        category, category_why = None, "none: no rule set a category"
    if suggestion is not None and not suggestion_used and outcome.category_id is None:
        category_why += (
            f" (the learned model's guess, {suggestion.suggestion.label}, was "
            f"{suggestion.suggestion.confidence:.0%}, under {suggestion.threshold:.0%})"
        )
    complex_terms = matching.complexity_terms(facts.text)
    tier = matching.decide_tier(
        severity=outcome.severity,
        rule_tier=outcome.tier,
        rule_name=outcome.tier_rule,
        category_tier=category.default_tier if category else None,
        category_name=category.name if category else None,
        complex_terms=complex_terms,
    )
    team = Team.objects.filter(pk=outcome.team_id).first() if outcome.team_id else None
    tags = [t for t in outcome.tags if t not in (current_tags or [])]
    return Plan(
        facts=facts,
        outcome=outcome,
        fired=fired,
        suggestion=suggestion,
        suggestion_used=suggestion_used,
        category=category,
        category_why=category_why,
        severity=outcome.severity,
        severity_why=outcome.severity_why,
        tier=tier.tier,
        tier_why=tier.why,
        team=team,
        tags=tags,
        required_skill=(
            category_required_skill(category.pk)
            if suggestion_used and category
            else required_skill_of(category)
        ),
        complex_terms=complex_terms,
    )


def _action_names(outcome: matching.RulesOutcome) -> dict[str, str]:
    category_ids = {
        f.rule.actions.category_id for f in outcome.fired if f.rule.actions.category_id is not None
    }
    team_ids = {f.rule.actions.team_id for f in outcome.fired if f.rule.actions.team_id is not None}
    names: dict[str, str] = {}
    if category_ids:
        names |= {
            f"category:{pk}": name
            for pk, name in Category.objects.filter(pk__in=category_ids).values_list("pk", "name")
        }
    if team_ids:
        names |= {
            f"team:{pk}": name
            for pk, name in Team.objects.filter(pk__in=team_ids).values_list("pk", "name")
        }
    return names


# ---------------------------------------------------------------- routing a ticket


def _for_routing() -> QuerySet[Ticket]:
    """Tickets locked, with what routing reads of them."""
    return Ticket.objects.select_for_update(of=("self",)).select_related(
        "community", "requester", "category__routing__required_skill"
    )


def _locked(ticket: Ticket | int) -> Ticket:
    return _for_routing().get(pk=ticket if isinstance(ticket, int) else ticket.pk)


def ticket_route(
    *,
    ticket: Ticket | int,
    trigger: str,
    actor: User | None = None,
    seen_event_id: int | None = None,
) -> RoutingDecision | None:
    """Route the ticket and record the decision. For the first run (`opened`, `approved`)
    this happens once per ticket: a repeated delivery returns None. Category, severity,
    tier and tags change through ticket_update; the agent through ticket_assign. A tier an
    agent or a breach escalated to stays: the rules do not undo an escalation."""
    started = time.perf_counter()
    with transaction.atomic():
        ticket = _locked(ticket)
        refuse_if_changed(ticket=ticket, seen_event_id=seen_event_id, actor=actor)
        if (
            trigger in FIRST_RUN
            and RoutingDecision.objects.filter(ticket_id=ticket.pk, trigger__in=FIRST_RUN).exists()
        ):
            return None
        if ticket.status not in ROUTABLE:
            if trigger not in FIRST_RUN:
                raise NotRoutable(f"{ticket.reference} is {ticket.get_status_display().lower()}.")
            return _record_not_routable(ticket, trigger, started)
        plan = _plan_for(ticket, rules=active_rules(), escalation=_latest_escalation(ticket))
        return _carry_out(ticket, plan, trigger=trigger, actor=actor, started=started)


def tickets_route(*, tickets: list[tuple[int, str]]) -> list[RoutingDecision]:
    """Route several tickets on their first run (`opened` or `approved`, given per ticket)
    in one transaction, each as ticket_route would, in the order given; return the
    decisions made. A ticket that is gone or was routed already is passed over.

    The rules, the escalations and the agents are read once for the whole batch, and the
    profiles of every agent who could take one of the tickets are locked together, in
    one order, before any is given a ticket: a worker routing a batch holds those agents
    until it commits, and two batches wanting the same agents take turns instead of
    deadlocking."""
    with transaction.atomic():
        ids = sorted({ticket_id for ticket_id, _ in tickets})
        locked = {t.pk: t for t in _for_routing().filter(pk__in=ids).order_by("pk")}
        routed = set(
            RoutingDecision.objects.filter(ticket_id__in=ids, trigger__in=FIRST_RUN).values_list(
                "ticket_id", flat=True
            )
        )
        escalations = {
            e.ticket_id: e
            for e in TierEscalation.objects.filter(ticket_id__in=ids)
            .order_by("ticket_id", "-created_at", "-pk")
            .distinct("ticket_id")
        }
        rules = active_rules()
        planned: list[tuple[Ticket, Plan, str, float]] = []
        decisions: list[RoutingDecision] = []
        for ticket_id, trigger in tickets:
            started = time.perf_counter()
            ticket = locked.get(ticket_id)
            if trigger not in FIRST_RUN or ticket is None or ticket_id in routed:
                continue
            routed.add(ticket_id)
            if ticket.status not in ROUTABLE:
                decisions.append(_record_not_routable(ticket, trigger, started))
                continue
            plan = _plan_for(ticket, rules=rules, escalation=escalations.get(ticket_id))
            planned.append((ticket, plan, trigger, time.perf_counter() - started))
        batch = Batch()
        batch.lock_pools(
            {(plan.tier, plan.team) for ticket, plan, _, _ in planned if ticket.assignee_id is None}
        )
        for ticket, plan, trigger, planning in planned:
            started = time.perf_counter() - planning
            if ticket.assignee_id is None:
                decisions.append(
                    _carry_out(ticket, plan, trigger=trigger, started=started, batch=batch)
                )
            else:
                # Given to someone by hand before routing ran: the single path decides,
                # and the batch counts afresh after it.
                decisions.append(_carry_out(ticket, plan, trigger=trigger, started=started))
                batch.forget_counts()
        batch.save()
    return decisions


def _latest_escalation(ticket: Ticket) -> TierEscalation | None:
    return TierEscalation.objects.filter(ticket_id=ticket.pk).order_by("-created_at", "-pk").first()


def _plan_for(
    ticket: Ticket, *, rules: list[matching.Rule], escalation: TierEscalation | None
) -> Plan:
    plan = routing_plan(
        facts=facts_for(ticket, rules),
        current_category=ticket.category,
        current_tags=ticket.tags,
        rules=rules,
    )
    _keep_escalated_tier(ticket, plan, escalation)
    return plan


def _carry_out(
    ticket: Ticket,
    plan: Plan,
    *,
    trigger: str,
    started: float,
    actor: User | None = None,
    batch: Batch | None = None,
) -> RoutingDecision:
    """Assign the locked ticket by the plan, write its fields, and record the decision."""
    before = {
        "category_id": ticket.category_id,
        "severity": ticket.severity,
        "tier": ticket.tier,
    }
    assignment = _decide(
        ticket=ticket,
        tier=plan.tier,
        team=plan.team,
        skill=plan.required_skill,
        may_be_waiting=trigger not in FIRST_RUN,
        batch=batch,
    )
    ticket = _apply(ticket, plan, actor, assignment)
    decision = RoutingDecision.objects.create(
        ticket=ticket,
        trigger=trigger,
        actor=actor,
        rules=plan.fired,
        stopped_by=plan.outcome.stopped_by or "",
        severity_assessment=plan.outcome.assessment.as_dict(),
        suggestion=plan.suggestion_dict(),
        before=before,
        category=plan.category,
        category_why=plan.category_why,
        severity=plan.severity,
        severity_why=plan.severity_why,
        tier=plan.tier,
        tier_why=plan.tier_why,
        team=plan.team,
        tags_added=plan.tags,
        **assignment.fields(),
        duration_ms=round((time.perf_counter() - started) * 1000, 2),
    )
    RuleHit.objects.bulk_create(
        RuleHit(rule_id=f.rule.id, decision=decision, matched=list(f.matched))
        for f in plan.outcome.fired
        if f.rule.id
    )
    if plan.severity == Severity.CRITICAL and (
        trigger in FIRST_RUN or before["severity"] != Severity.CRITICAL
    ):
        # The paging capability reacts to this (supportdesk/events.py).
        outbox.publish(
            "ticket.critical",
            community_id=ticket.community_id,
            ticket_id=ticket.pk,
            decision_id=decision.pk,
            tier=plan.tier,
        )
    return decision


def _keep_escalated_tier(ticket: Ticket, plan: Plan, escalation: TierEscalation | None) -> None:
    """When the ticket's tier is the one its latest escalation moved it to, it stays."""
    if escalation is None or escalation.to_tier != ticket.tier or plan.tier == ticket.tier:
        return
    plan.tier = ticket.tier
    plan.tier_why = (
        f"Kept at {Tier(ticket.tier).label.lower()}: escalated {escalation.direction} "
        f"({escalation.reason})"
    )
    plan.team = None


def _apply(ticket: Ticket, plan: Plan, actor: User | None, assignment: Assignment) -> Ticket:
    """The plan's fields and the assignee, in one ticket_update (one write)."""
    data: dict[str, Any] = {}
    if plan.category is not None and plan.category.pk != ticket.category_id:
        data["category"] = plan.category
    if plan.severity != ticket.severity:
        data["severity"] = plan.severity
    if plan.tier != ticket.tier:
        data["tier"] = plan.tier
    if plan.tags:
        data["tags"] = [*ticket.tags, *plan.tags]
    if assignment.reassign:
        data["assignee"] = assignment.assignee
    if not data:
        return ticket
    fired = ", ".join(f["name"] for f in plan.fired) or "none"
    return ticket_update(
        ticket=ticket, actor=actor, data=data, reason=f"Routing (rules fired: {fired})"
    )


@dataclass
class Assignment:
    outcome: str
    assignee: Any  # User | None
    explanation: str
    candidates: list[dict[str, Any]]
    # The ticket's assignee is to change to `assignee` (ticket_assign or ticket_update).
    reassign: bool = False

    def fields(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "assignee": self.assignee,
            "explanation": self.explanation,
            "candidates": self.candidates,
        }


def assigned_by_hand(ticket: Ticket) -> bool:
    """True when a person (not routing) gave the ticket its current agent. An assignee with
    no audit entry counts as manual: routing never takes a ticket from someone it did not
    give it to."""
    if ticket.assignee_id is None:
        return False
    last = (
        TicketEvent.objects.filter(ticket_id=ticket.pk, kind=TicketEvent.Kind.ASSIGNED)
        .order_by("-id")
        .values_list("actor_id", "data")
        .first()
    )
    if last is None:
        return True
    actor_id, data = last
    return actor_id is not None or data.get("assignee") != ticket.assignee_id


def _decide(
    *,
    ticket: Ticket,
    tier: str,
    team: Team | None,
    skill: Skill | None,
    now: datetime | None = None,
    may_be_waiting: bool = True,
    batch: Batch | None = None,
) -> Assignment:
    """Choose who gets the ticket: the best candidate (claimed), its manual (or still
    fitting automatic) assignee, or nobody for now (the ticket joins the waiting queue).
    The caller holds the ticket's lock, and gives the ticket to `assignee` when `reassign`
    says so. `may_be_waiting` False: the ticket cannot be in the queue yet (its first run)."""
    now = now or timezone.now()

    def leave_queue() -> None:
        if may_be_waiting:
            WaitingTicket.objects.filter(ticket_id=ticket.pk).delete()

    if assigned_by_hand(ticket):
        leave_queue()
        name = ticket.assignee.display_name if ticket.assignee else ""
        return Assignment(
            RoutingDecision.Outcome.KEPT,
            ticket.assignee,
            f"Assigned by hand to {name}: routing never overrides a manual assignment.",
            [],
        )
    pick = choose(
        tier=tier,
        team=team,
        required_skill_id=skill.pk if skill else None,
        required_skill_name=skill.name if skill else "",
        community_id=ticket.community_id,
        community_name=ticket.community.name,
        now=now,
        ticket_id=ticket.pk,
        holder_id=ticket.assignee_id,
        batch=batch,
    )
    if pick.kept:
        leave_queue()
        return Assignment(
            RoutingDecision.Outcome.KEPT,
            ticket.assignee,
            pick.explanation,
            [c.as_dict() for c in pick.candidates[:_CANDIDATES_KEPT]],
        )
    if pick.winner is not None:
        winner = claim(pick, ticket_id=ticket.pk, batch=batch)
        if winner is not pick.winner:
            passed = [c.name for c in pick.candidates if c.rank and not c.eligible]
            pick.explanation = (
                f"{winner.name} takes it: {', '.join(passed)} filled up or went away meanwhile."
                if winner is not None
                else f"Everyone who fitted ({', '.join(passed)}) filled up or went away "
                "meanwhile; it waits in the queue."
            )
            pick.winner = winner
    candidates = [c.as_dict() for c in pick.candidates[:_CANDIDATES_KEPT]]
    if pick.winner is not None:
        if batch is None:
            AgentProfile.objects.filter(pk=pick.winner.profile_id).update(last_assigned_at=now)
        else:
            batch.took(pick.winner, community_id=ticket.community_id, now=now)
        leave_queue()
        return Assignment(
            RoutingDecision.Outcome.ASSIGNED,
            pick.winner.user,
            pick.explanation,
            candidates,
            reassign=pick.winner.user.pk != ticket.assignee_id,
        )
    _wait(ticket=ticket, tier=tier, team=team, pick=pick, now=now)
    return Assignment(
        RoutingDecision.Outcome.WAITING,
        None,
        pick.explanation,
        candidates,
        # Routing gave it to someone who no longer fits (a new tier, team or skill).
        reassign=ticket.assignee_id is not None,
    )


def _assign(*, ticket: Ticket, tier: str, team: Team | None, skill: Skill | None) -> Assignment:
    """_decide, and give the ticket to whom it decided."""
    assignment = _decide(ticket=ticket, tier=tier, team=team, skill=skill)
    if assignment.reassign:
        ticket_assign(ticket=ticket.pk, assignee=assignment.assignee, actor=None)
    return assignment


def _wait(*, ticket: Ticket, tier: str, team: Team | None, pick: Pick, now: datetime) -> None:
    WaitingTicket.objects.update_or_create(
        ticket_id=ticket.pk,
        defaults={"tier": tier, "team": team, "reason": pick.explanation, "tried_at": now},
        create_defaults={
            "tier": tier, "team": team, "reason": pick.explanation, "tried_at": now, "since": now,
        },
    )  # fmt: skip


def _record_not_routable(ticket: Ticket, trigger: str, started: float) -> RoutingDecision:
    return RoutingDecision.objects.create(
        ticket=ticket,
        trigger=trigger,
        rules_ran=False,
        category=ticket.category,
        severity=ticket.severity,
        tier=ticket.tier,
        outcome=RoutingDecision.Outcome.NOT_ROUTABLE,
        explanation=f"Not routed: the ticket was already {ticket.get_status_display().lower()}.",
        duration_ms=round((time.perf_counter() - started) * 1000, 2),
    )


def _record_assignment(
    *, ticket: Ticket, trigger: str, actor: User | None, assignment: Assignment, started: float
) -> RoutingDecision:
    """A decision for an assignment without a new run of the rules (the waiting queue, an
    escalation): the rules' findings are carried over from the previous decision."""
    previous = RoutingDecision.objects.filter(ticket=ticket, rules_ran=True).order_by("-id").first()
    carried: dict[str, Any] = {}
    if previous is not None:
        carried = {
            "rules": previous.rules,
            "stopped_by": previous.stopped_by,
            "severity_assessment": previous.severity_assessment,
            "suggestion": previous.suggestion,
            "category_why": previous.category_why,
            "severity_why": previous.severity_why,
            "team_id": previous.team_id,
        }
    return RoutingDecision.objects.create(
        ticket=ticket,
        trigger=trigger,
        actor=actor,
        rules_ran=False,
        category_id=ticket.category_id,
        severity=ticket.severity,
        tier=ticket.tier,
        **carried,
        **assignment.fields(),
        duration_ms=round((time.perf_counter() - started) * 1000, 2),
    )


# ---------------------------------------------------------------- agents' commands


def _require_agent(actor: User | None) -> None:
    if actor is not None and not is_agent(actor):
        raise Forbidden("Only agents route and escalate tickets.")


def ticket_reroute(
    *, ticket: Ticket | int, actor: User, seen_event_id: int | None = None
) -> RoutingDecision:
    """Run the rules again (the desk's "Re-route") and record a new decision. A manual
    assignment stays; an automatic one stays while its agent still fits."""
    _require_agent(actor)
    decision = ticket_route(
        ticket=ticket,
        trigger=RoutingDecision.Trigger.REROUTE,
        actor=actor,
        seen_event_id=seen_event_id,
    )
    assert decision is not None  # only the first run can be a repeat
    return decision


def ticket_escalate(
    *,
    ticket: Ticket | int,
    direction: str,
    reason: str,
    actor: User | None,
    source_event_id: int | None = None,
    seen_event_id: int | None = None,
) -> TierEscalation:
    """Move the ticket one tier up or down (self service → community → expert →
    engineering → emergency), with a reason kept in the audit trail; publish
    `ticket.escalated`. An automatic assignment follows the ticket to its new tier; a manual
    one stays. `actor` None is the system (an SLA breach, `source_event_id` its event)."""
    _require_agent(actor)
    if direction not in TierEscalation.Direction.values:
        raise ValidationError(
            {"direction": ValidationError("Escalate up or down.", code="invalid_choice")}
        )
    reason = reason.strip()
    if not reason:
        raise ReasonRequired("Say why the ticket changes tier.", field="reason")
    started = time.perf_counter()
    with transaction.atomic():
        ticket = _locked(ticket)
        refuse_if_changed(ticket=ticket, seen_event_id=seen_event_id, actor=actor)
        if ticket.status not in ROUTABLE:
            raise NotRoutable(f"{ticket.reference} is {ticket.get_status_display().lower()}.")
        target = matching.tier_step(ticket.tier, direction)
        if target is None:
            where = "above emergency" if direction == "up" else "below self service"
            raise EscalationRefused(
                f"{ticket.reference} is at the {Tier(ticket.tier).label.lower()} tier: "
                f"there is no tier {where}.",
                tier=ticket.tier,
            )
        previous = ticket.tier
        ticket = ticket_update(
            ticket=ticket,
            actor=actor,
            data={"tier": target},
            reason=f"Escalated {direction}: {reason}",
        )
        escalation = TierEscalation.objects.create(
            ticket=ticket,
            direction=direction,
            from_tier=previous,
            to_tier=target,
            reason=reason,
            actor=actor,
            source_event_id=source_event_id,
        )
        outbox.publish(
            "ticket.escalated",
            community_id=ticket.community_id,
            ticket_id=ticket.pk,
            escalation_id=escalation.pk,
            direction=direction,
            from_tier=previous,
            to_tier=target,
        )
        # A team chosen by a rule served the old tier: the new tier's agents take over.
        ticket = _locked(ticket)
        assignment = _assign(
            ticket=ticket, tier=target, team=None, skill=category_required_skill(ticket.category_id)
        )
        _record_assignment(
            ticket=ticket,
            trigger=RoutingDecision.Trigger.ESCALATION,
            actor=actor,
            assignment=assignment,
            started=started,
        )
    return escalation


def ticket_escalate_for_breach(
    *, ticket_id: int, event_id: int, reason: str
) -> TierEscalation | None:
    """An SLA breach moves the ticket one tier up, once per breach event; nothing happens
    for a ticket that is gone, finished, or already at the emergency tier."""
    existing = TierEscalation.objects.filter(source_event_id=event_id).first()
    if existing is not None:
        return existing
    ticket = Ticket.objects.filter(pk=ticket_id).only("status", "tier").first()
    if (
        ticket is None
        or ticket.status not in ROUTABLE
        or matching.tier_step(ticket.tier, "up") is None
    ):
        logger.info("SLA breach on ticket %s: no tier to escalate to", ticket_id)
        return None
    return ticket_escalate(
        ticket=ticket_id, direction="up", reason=reason, actor=None, source_event_id=event_id
    )


# ---------------------------------------------------------------- the waiting queue


def waiting_tickets_assign(*, limit: int = 200) -> int:
    """Give waiting tickets, oldest first, to agents who now have room (or are back);
    return how many were assigned. Each ticket is its own transaction; a ticket another
    worker holds is skipped. Once a queue (tier, team, skill) has no room, its younger
    tickets are not tried again in this pass."""
    ids = list(WaitingTicket.objects.order_by("since").values_list("ticket_id", flat=True)[:limit])
    full: set[tuple[str, int | None, int | None]] = set()
    assigned = 0
    for ticket_id in ids:
        started = time.perf_counter()
        with transaction.atomic():
            ticket = (
                Ticket.objects.select_for_update(of=("self",), skip_locked=True)
                .select_related("community", "assignee")
                .filter(pk=ticket_id)
                .first()
            )
            waiting = (
                WaitingTicket.objects.filter(ticket_id=ticket_id).select_related("team").first()
            )
            if ticket is None or waiting is None:
                continue
            if ticket.assignee_id is not None or ticket.status not in ROUTABLE:
                waiting.delete()  # assigned by hand meanwhile, or finished
                continue
            skill = category_required_skill(ticket.category_id)
            queue = (ticket.tier, waiting.team_id, skill.pk if skill else None)
            if queue in full:
                continue
            assignment = _assign(ticket=ticket, tier=ticket.tier, team=waiting.team, skill=skill)
            if assignment.outcome == RoutingDecision.Outcome.WAITING:
                full.add(queue)
                continue
            _record_assignment(
                ticket=ticket,
                trigger=RoutingDecision.Trigger.QUEUE,
                actor=None,
                assignment=assignment,
                started=started,
            )
            assigned += 1
    return assigned


# ---------------------------------------------------------------- "test these rules"


@dataclass(frozen=True)
class DryRun:
    plan: Plan
    pick: Pick


def rules_test(
    *,
    subject: str,
    description: str,
    community: Community | None = None,
    channel: str = "portal",
    kind: str = "question",
    severity: str = "medium",
    requester_is_representative: bool = True,
) -> DryRun:
    """What routing would do with such a ticket now, without writing anything: the rules
    that fire, the category, severity, tier, team and agent."""
    facts = matching.Facts(
        subject=subject,
        description=description,
        community_id=community.pk if community else None,
        service_plan_id=community.service_plan_id if community else None,
        channel=channel,
        kind=kind,
        requester_is_representative=requester_is_representative,
        severity=severity,
    )
    plan = routing_plan(facts=facts)
    skill = plan.required_skill
    pick = choose(
        tier=plan.tier,
        team=plan.team,
        required_skill_id=skill.pk if skill else None,
        required_skill_name=skill.name if skill else "",
        community_id=community.pk if community else None,
        community_name=community.name if community else "",
        now=timezone.now(),
    )
    return DryRun(plan, pick)
