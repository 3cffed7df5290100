"""The routing API, for agents only: to anyone else every routing endpoint is a 404, like
any resource that is not theirs. Parse, call one service or selector, render."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from communities.selectors import community_scope, service_plan_list
from core.api.permissions import AgentsOnly
from core.idempotency import idempotent
from core.models import User
from core.selectors import agent_get
from routing.api import serializers as s
from routing.models import AgentProfile, RoutingRule, Skill, Team, TierEscalation
from routing.selectors import (
    agent_profile_list,
    category_list,
    decisions_for,
    rule_list,
    skill_list,
    team_list,
    waiting_list,
)
from routing.services import config
from routing.services.routing import DryRun, rules_test, ticket_escalate, ticket_reroute
from tickets.models import Category, Ticket
from tickets.selectors import ticket_get


def _user(request: Request) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _field_error(field: str, message: str, code: str = "does_not_exist") -> ValidationError:
    return ValidationError({field: [serializers.ErrorDetail(message, code=code)]})


# ---------------------------------------------------------------- rules


class RuleViewSet(viewsets.GenericViewSet[RoutingRule]):
    """Routing rules in the order they run, with their hits over the last 30 days."""

    serializer_class = s.RuleSerializer
    permission_classes = [AgentsOnly]
    pagination_class = None
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[RoutingRule]:
        return rule_list()

    def list(self, request: Request) -> Response:
        return Response(s.RuleSerializer(self.get_queryset(), many=True).data)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(s.RuleSerializer(self.get_object()).data)

    def _resolve(self, data: dict[str, Any]) -> dict[str, Any]:
        data = dict(data)
        if "communities" in data:
            slugs = data["communities"]
            found = {c.slug: c for c in community_scope(_user(self.request)).filter(slug__in=slugs)}
            missing = [slug for slug in slugs if slug not in found]
            if missing:
                raise _field_error("communities", f"No such community: {', '.join(missing)}.")
            data["communities"] = [found[slug] for slug in slugs]
        if "service_plans" in data:
            slugs = data["service_plans"]
            plans = {p.slug: p for p in service_plan_list().filter(slug__in=slugs)}
            missing = [slug for slug in slugs if slug not in plans]
            if missing:
                raise _field_error("service_plans", f"No such service plan: {', '.join(missing)}.")
            data["service_plans"] = [plans[slug] for slug in slugs]
        return data

    @extend_schema(request=s.RuleInputSerializer, responses={201: s.RuleSerializer})
    @idempotent
    def create(self, request: Request) -> Response:
        payload = s.RuleInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        rule = config.rule_create(**self._resolve(payload.validated_data))
        return Response(
            s.RuleSerializer(rule_list().get(pk=rule.pk)).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(request=s.RuleInputSerializer, responses=s.RuleSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        rule = self.get_object()
        payload = s.RuleInputSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        data = self._resolve(payload.validated_data)
        communities = data.pop("communities", None)
        service_plans = data.pop("service_plans", None)
        config.rule_update(
            rule=rule, data=data, communities=communities, service_plans=service_plans
        )
        return Response(s.RuleSerializer(rule_list().get(pk=rule.pk)).data)

    def destroy(self, request: Request, pk: str) -> Response:
        config.rule_delete(rule=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class RuleTestApi(APIView):
    """Dry run: which rules fire for this subject and text, and which category, severity,
    tier and agent would result. Nothing is saved."""

    permission_classes = [AgentsOnly]

    @extend_schema(request=s.RuleTestInputSerializer, responses=s.DryRunSerializer)
    @idempotent
    def post(self, request: Request) -> Response:
        payload = s.RuleTestInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        community = None
        if "community" in data:
            community = community_scope(_user(request)).filter(slug=data["community"]).first()
            if community is None:
                raise _field_error("community", "No such community.")
        run = rules_test(
            subject=data["subject"],
            description=data["description"],
            community=community,
            channel=data["channel"],
            kind=data["kind"],
            severity=data["severity"],
            requester_is_representative=data["requester_is_representative"],
        )
        return Response(s.DryRunSerializer(dry_run_data(run)).data)


def dry_run_data(run: DryRun) -> dict[str, Any]:
    plan, pick = run.plan, run.pick
    return {
        "rules": plan.fired,
        "stopped_by": plan.outcome.stopped_by,
        "severity_assessment": plan.outcome.assessment.as_dict(),
        "category": plan.category,
        "category_why": plan.category_why,
        "severity": plan.severity,
        "severity_why": plan.severity_why,
        "tier": plan.tier,
        "tier_why": plan.tier_why,
        "team": plan.team,
        "tags": plan.tags,
        "required_skill": plan.required_skill.slug if plan.required_skill else None,
        "suggestion": plan.suggestion_dict(),
        "agent": ({"pk": pick.winner.user_id, "name": pick.winner.name} if pick.winner else None),
        "explanation": pick.explanation,
        "candidates": [c.as_dict() for c in pick.candidates],
    }


# ---------------------------------------------------------------- a ticket's routing


def _staff_ticket(request: Request, reference: str) -> Ticket:
    """The ticket, for an agent; anyone else gets 404 (routing is the desk's business)."""
    user = _user(request)
    if not (user.is_staff and user.is_active):
        raise NotFound()
    return ticket_get(user=user, reference=reference)


def ticket_routing_data(ticket: Ticket) -> dict[str, Any]:
    decisions = list(decisions_for(ticket).order_by("-created_at", "-id"))
    waiting = ticket.routing_wait if hasattr(ticket, "routing_wait") else None
    return {
        "ticket": ticket.reference,
        "tier": ticket.tier,
        "assignee": ticket.assignee,
        "waiting": waiting,
        "decision": decisions[0] if decisions else None,
        "history": decisions,
        "escalations": list(TierEscalation.objects.filter(ticket=ticket).select_related("actor")),
    }


class TicketRoutingApi(APIView):
    """Why the ticket went where it is: the latest routing decision, the earlier ones, the
    tier escalations, and whether it waits for an agent. Agents only."""

    permission_classes = [AgentsOnly]

    @extend_schema(responses=s.TicketRoutingSerializer)
    def get(self, request: Request, reference: str) -> Response:
        ticket = _staff_ticket(request, reference)
        ticket = (
            Ticket.objects.select_related("assignee", "routing_wait").filter(pk=ticket.pk).get()
        )
        return Response(s.TicketRoutingSerializer(ticket_routing_data(ticket)).data)


class TicketEscalateApi(APIView):
    """Move the ticket one tier up or down, with a reason. 409 past either end."""

    permission_classes = [AgentsOnly]

    @extend_schema(
        request=s.EscalateInputSerializer,
        responses={
            200: s.TicketRoutingSerializer,
            409: OpenApiResponse(description="No tier there."),
        },
    )
    @idempotent
    def post(self, request: Request, reference: str) -> Response:
        ticket = _staff_ticket(request, reference)
        payload = s.EscalateInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        ticket_escalate(
            ticket=ticket,
            direction=payload.validated_data["direction"],
            reason=payload.validated_data["reason"],
            actor=_user(request),
        )
        ticket = Ticket.objects.select_related("assignee", "routing_wait").get(pk=ticket.pk)
        return Response(s.TicketRoutingSerializer(ticket_routing_data(ticket)).data)


class TicketRerouteApi(APIView):
    """Run the routing rules again and record a new decision. A manual assignment stays."""

    permission_classes = [AgentsOnly]

    @extend_schema(request=None, responses={200: s.DecisionSerializer, 409: OpenApiResponse()})
    @idempotent
    def post(self, request: Request, reference: str) -> Response:
        ticket = _staff_ticket(request, reference)
        decision = ticket_reroute(ticket=ticket, actor=_user(request))
        decision = decisions_for(ticket).get(pk=decision.pk)
        return Response(s.DecisionSerializer(decision).data)


class WaitingApi(APIView):
    """Tickets waiting for an agent, oldest first (`?tier=expert` for one tier's queue)."""

    permission_classes = [AgentsOnly]

    @extend_schema(responses=s.WaitingTicketSerializer(many=True))
    def get(self, request: Request) -> Response:
        waiting = waiting_list(tier=request.query_params.get("tier") or None)[:200]
        return Response(s.WaitingTicketSerializer(waiting, many=True).data)


# ---------------------------------------------------------------- configuration


class SkillViewSet(viewsets.GenericViewSet[Skill]):
    serializer_class = s.SkillSerializer
    permission_classes = [AgentsOnly]
    pagination_class = None
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[Skill]:
        return skill_list()

    def list(self, request: Request) -> Response:
        return Response(s.SkillSerializer(self.get_queryset(), many=True).data)

    @extend_schema(request=s.SkillInputSerializer, responses={201: s.SkillSerializer})
    @idempotent
    def create(self, request: Request) -> Response:
        payload = s.SkillInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        skill = config.skill_create(**payload.validated_data)
        return Response(s.SkillSerializer(skill).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.SkillInputSerializer, responses=s.SkillSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        payload = s.SkillInputSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        skill = config.skill_update(skill=self.get_object(), data=payload.validated_data)
        return Response(s.SkillSerializer(skill).data)


class CategoryViewSet(viewsets.GenericViewSet[Category]):
    """Ticket categories with the skill routing requires for each."""

    serializer_class = s.CategorySerializer
    permission_classes = [AgentsOnly]
    pagination_class = None
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[Category]:
        return category_list()

    def list(self, request: Request) -> Response:
        return Response(s.CategorySerializer(self.get_queryset(), many=True).data)

    @extend_schema(request=s.CategoryInputSerializer, responses={201: s.CategorySerializer})
    @idempotent
    def create(self, request: Request) -> Response:
        payload = s.CategoryInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        category = config.routing_category_create(**payload.validated_data)
        return Response(
            s.CategorySerializer(self.get_queryset().get(pk=category.pk)).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(request=s.CategoryInputSerializer, responses=s.CategorySerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        category = self.get_object()
        payload = s.CategoryInputSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        if "required_skill" in data:
            config.routing_category_update(
                category=category, data=data, required_skill=data.pop("required_skill")
            )
        else:
            config.routing_category_update(category=category, data=data)
        return Response(s.CategorySerializer(self.get_queryset().get(pk=category.pk)).data)


def _profiles_by_user(field: str, user_ids: list[int]) -> list[AgentProfile]:
    found = {p.user_id: p for p in AgentProfile.objects.filter(user_id__in=user_ids)}
    missing = [str(i) for i in user_ids if i not in found]
    if missing:
        raise _field_error(field, f"No agent profile for: {', '.join(missing)}.")
    return [found[i] for i in user_ids]


class TeamViewSet(viewsets.GenericViewSet[Team]):
    serializer_class = s.TeamSerializer
    permission_classes = [AgentsOnly]
    pagination_class = None
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[Team]:
        return team_list()

    def list(self, request: Request) -> Response:
        return Response(s.TeamSerializer(self.get_queryset(), many=True).data)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(s.TeamSerializer(self.get_object()).data)

    @extend_schema(request=s.TeamInputSerializer, responses={201: s.TeamSerializer})
    @idempotent
    def create(self, request: Request) -> Response:
        payload = s.TeamInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        members = _profiles_by_user("members", data.pop("members", []))
        team = config.team_create(name=data["name"], tier=data["tier"], members=members)
        return Response(
            s.TeamSerializer(self.get_queryset().get(pk=team.pk)).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(request=s.TeamInputSerializer, responses=s.TeamSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        team = self.get_object()
        payload = s.TeamInputSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        members = None
        if "members" in data:
            members = _profiles_by_user("members", data.pop("members"))
        config.team_update(team=team, data=data, members=members)
        return Response(s.TeamSerializer(self.get_queryset().get(pk=team.pk)).data)


class AgentProfileViewSet(viewsets.GenericViewSet[AgentProfile]):
    """Agents as routing sees them, by the agent's user id: tier, skills, capacity, hours,
    presence and substitute."""

    serializer_class = s.AgentProfileSerializer
    permission_classes = [AgentsOnly]
    pagination_class = None
    lookup_field = "user_id"
    lookup_url_kwarg = "agent"
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[AgentProfile]:
        return agent_profile_list()

    def list(self, request: Request) -> Response:
        return Response(s.AgentProfileSerializer(self.get_queryset(), many=True).data)

    def retrieve(self, request: Request, agent: str) -> Response:
        return Response(s.AgentProfileSerializer(self.get_object()).data)

    def _input(self, request: Request, *, partial: bool) -> dict[str, Any]:
        payload = s.AgentProfileInputSerializer(data=request.data, partial=partial)
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        if "skills" in data:
            slugs = data["skills"]
            skills = {k.slug: k for k in Skill.objects.filter(slug__in=slugs)}
            missing = [slug for slug in slugs if slug not in skills]
            if missing:
                raise _field_error("skills", f"No such skill: {', '.join(missing)}.")
            data["skills"] = [skills[slug] for slug in slugs]
        if data.get("substitute") is not None:
            data["substitute"] = _profiles_by_user("substitute", [data["substitute"]])[0]
        return data

    @extend_schema(request=s.AgentProfileInputSerializer, responses={201: s.AgentProfileSerializer})
    @idempotent
    def create(self, request: Request) -> Response:
        data = self._input(request, partial=False)
        if "agent" not in data:
            raise _field_error("agent", "This field is required.", code="required")
        user = agent_get(user_id=data.pop("agent"))
        if user is None:
            raise _field_error("agent", "No such agent.")
        profile = config.agent_profile_create(user=user, **data)
        return Response(
            s.AgentProfileSerializer(self.get_queryset().get(pk=profile.pk)).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(request=s.AgentProfileInputSerializer, responses=s.AgentProfileSerializer)
    def partial_update(self, request: Request, agent: str) -> Response:
        profile = self.get_object()
        data = self._input(request, partial=True)
        if "agent" in data:
            raise _field_error("agent", "The agent of a profile does not change.", code="read_only")
        skills = data.pop("skills", None)
        config.agent_profile_update(profile=profile, data=data, skills=skills)
        return Response(s.AgentProfileSerializer(self.get_queryset().get(pk=profile.pk)).data)
