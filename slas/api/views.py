"""The SLA API: parse, call one selector, render."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import ErrorDetail, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from communities.models import ServicePlan
from communities.selectors import community_scope
from core.errors import NotFound
from core.models import User
from slas.api import serializers as s
from slas.selectors import sla_compliance, ticket_clocks
from tickets.selectors import ticket_get


def _user(request: Request) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


class TicketSLAApi(APIView):
    """A ticket's SLA: the policy that applies and why, and its three clocks (first
    response, next update, resolution) with due times, states and counted time left."""

    @extend_schema(responses=s.TicketSLASerializer)
    def get(self, request: Request, reference: str) -> Response:
        user = _user(request)
        ticket = ticket_get(user=user, reference=reference)
        block = ticket_clocks(ticket)
        return Response(s.TicketSLASerializer(block, context={"history": user.is_staff}).data)


class ComplianceApi(APIView):
    """SLA compliance per metric over the clocks started in a window: the share met in time,
    and the median and 90th percentile of the time taken. Agents see every community;
    members see their own communities."""

    @extend_schema(
        parameters=[s.ComplianceQuerySerializer],
        responses=s.ComplianceSerializer,
    )
    def get(self, request: Request) -> Response:
        query = s.ComplianceQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        end = params.get("to") or timezone.now()
        start = params.get("from") or end - timedelta(days=30)
        if start >= end:
            raise ValidationError(
                {"from": [ErrorDetail("`from` comes before `to` (default: now).", code="invalid")]}
            )
        communities = community_scope(_user(request))
        if "community" in params:
            communities = communities.filter(slug=params["community"])
            if not communities.exists():
                raise NotFound("No such community.")
        plan = None
        if "plan" in params:
            plan = ServicePlan.objects.filter(slug=params["plan"]).first()
            if plan is None:
                raise ValidationError(
                    {"plan": [ErrorDetail("No such plan.", code="does_not_exist")]}
                )
        metrics = sla_compliance(
            communities=communities,
            start=start,
            end=end,
            plan=plan,
            severity=params.get("severity"),
        )
        return Response(
            s.ComplianceSerializer(
                {
                    "from": start,
                    "to": end,
                    "community": params.get("community"),
                    "plan": params.get("plan"),
                    "severity": params.get("severity"),
                    "metrics": metrics,
                }
            ).data
        )
