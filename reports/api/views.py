"""The reports API: the same figures and tables as the desk and the portal, with the same
filters and tenancy: agents see every community; a representative sees the communities they
represent; anyone else, or a community outside the scope, is 404."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from communities.models import Community
from communities.selectors import community_scope, representative_community_ids
from core.models import User
from reports import dashboards, metrics
from reports.api import serializers as s
from reports.filters import Parsed, parse_filters
from reports.targets import targets_by_metric

# What a representative may see of the metrics (never agents' or on-call figures).
COMMUNITY_METRICS = (
    "volume", "resolved", "backlog", "first_response", "resolution", "sla_first_response",
    "sla_next_update", "sla_resolution", "satisfaction", "budget_used", "incidents",
)  # fmt: skip


def _user(request: Request) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def report_scope(user: User) -> QuerySet[Community]:
    if user.is_staff and user.is_active:
        return community_scope(user)
    return Community.objects.filter(pk__in=representative_community_ids(user))


def _parsed(request: Request) -> Parsed:
    query = s.ReportQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    scope = report_scope(_user(request))
    if not scope.exists():
        raise Http404("No such page.")
    return parse_filters(request.query_params, communities=scope)


def _period(parsed: Parsed) -> dict[str, Any]:
    return {"start": parsed.filters.start, "end": parsed.filters.end, "title": parsed.period_label}


class MetricsApi(APIView):
    """Every metric over the period, with the previous period and the target's state.
    Representatives get their communities' ticket, SLA, satisfaction and budget figures."""

    @extend_schema(parameters=[s.ReportQuerySerializer], responses=s.MetricsSerializer)
    def get(self, request: Request) -> Response:
        parsed = _parsed(request)
        keys = list(metrics.METRICS) if _user(request).is_staff else list(COMMUNITY_METRICS)
        targets = targets_by_metric()
        figures = []
        for key in keys:
            compared = metrics.compare(key, parsed.filters)
            target = targets.get(key)
            figures.append(
                {
                    "key": key,
                    "title": compared.current.label,
                    "value": compared.current.value,
                    "unit": compared.current.unit,
                    "count": compared.current.count,
                    "previous": compared.previous.value,
                    "change": compared.change,
                    "target": float(target.target) if target else None,
                    "state": target.assess(compared.current.value) if target else "",
                }
            )
        communities = list(
            Community.objects.filter(pk__in=parsed.filters.community_ids)
            .order_by("slug")
            .values_list("slug", flat=True)
        )
        data = {"period": _period(parsed), "communities": communities, "figures": figures}
        return Response(s.MetricsSerializer(data).data)


class DashboardApi(APIView):
    """A dashboard's tables (the CSV exports' text): `support`, `operations`, `executive`
    and `community` for agents; `community` only for representatives."""

    @extend_schema(
        parameters=[
            s.ReportQuerySerializer,
            OpenApiParameter("key", str, OpenApiParameter.PATH, enum=list(dashboards.DASHBOARDS)),
        ],
        responses=s.DashboardSerializer,
    )
    def get(self, request: Request, key: str) -> Response:
        user = _user(request)
        if key not in dashboards.DASHBOARDS or (key != "community" and not user.is_staff):
            raise Http404("No such dashboard.")
        parsed = _parsed(request)
        f, drill = parsed.filters, dashboards.no_drill
        if key == "support":
            board = dashboards.support(f, drill)
        elif key == "operations":
            board = dashboards.operations(f, drill)
        elif key == "executive":
            board = dashboards.executive(f, drill)
        else:
            board = dashboards.community(f, drill)
        tables = [
            {"key": t.key, "title": t.title, "columns": t.columns, "rows": t.as_lists()[1:]}
            for t in board.tables
        ]
        return Response(s.DashboardSerializer({"period": _period(parsed), "tables": tables}).data)
