"""The incidents API: parse, call one service or selector, render. Anyone signed in reads
the incidents of their communities (public view); agents read everything and write.
Someone who cannot see an incident gets 404 for every request on it."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from communities.selectors import community_scope
from core.api.pagination import NewestFirstCursorPagination
from core.errors import ApplicationError
from core.idempotency import idempotent
from core.models import User
from incidents.api import serializers as s
from incidents.models import ActionItem, Incident, Postmortem, StatusUpdate
from incidents.selectors import (
    affected_communities,
    incident_get,
    incident_scope,
    timeline,
    viewer_community,
)
from incidents.services import lifecycle, postmortems, updates
from incidents.uptime import community_uptime, parse_month
from tickets.selectors import ticket_get


def _user(request: Request) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _is_agent(user: User) -> bool:
    return bool(user.is_active and user.is_staff)


def _visible(request: Request, incident_id: int) -> Incident:
    incident = incident_get(user=_user(request), reference=incident_id)
    if incident is None:
        raise NotFound()
    return incident


def _writable(request: Request, incident_id: int) -> Incident:
    incident = _visible(request, incident_id)
    if not _is_agent(_user(request)):
        raise PermissionDenied("Only agents change incidents.")
    return incident


def _agent_by_id(user_id: int | None, field: str) -> User | None:
    if user_id is None:
        return None
    found = User.objects.filter(pk=user_id, is_active=True, is_staff=True).first()
    if found is None:
        raise ValidationError({field: ["No such agent."]})
    return found


def detail_data(user: User, incident: Incident) -> dict[str, Any]:
    communities = affected_communities(user=user, incident=incident)
    reader = viewer_community(user=user, incident=incident)
    context: dict[str, Any] = {
        "communities": communities,
        "timeline": list(timeline(user=user, incident=incident)),
        "updates": list(StatusUpdate.objects.filter(incident=incident).order_by("-created_at")),
        "community_name": reader.name if reader else None,
    }
    if _is_agent(user):
        context["tickets"] = [
            f"SD-{pk}" for pk in incident.ticket_links.values_list("ticket_id", flat=True)
        ]
        return dict(s.IncidentDetailSerializer(incident, context=context).data)
    return dict(s.PublicIncidentDetailSerializer(incident, context=context).data)


def _detail(request: Request, incident_id: int, code: int = 200) -> Response:
    user = _user(request)
    incident = incident_get(user=user, reference=incident_id)
    assert incident is not None
    return Response(detail_data(user, incident), status=code)


class IncidentListApi(APIView):
    """Incidents you may see, newest first. POST (agents): declare one; it pages the on-call
    through the severity's escalation policy."""

    @extend_schema(responses=s.IncidentSerializer(many=True))
    def get(self, request: Request) -> Response:
        incidents = incident_scope(_user(request)).select_related("commander")
        paginator = NewestFirstCursorPagination()
        paginator.ordering = ("-declared_at", "-id")  # type: ignore[assignment]
        chunk = paginator.paginate_queryset(incidents, request, view=self)
        return paginator.get_paginated_response(s.IncidentSerializer(chunk, many=True).data)

    @extend_schema(request=s.DeclareSerializer, responses={201: s.IncidentDetailSerializer})
    @idempotent
    def post(self, request: Request) -> Response:
        user = _user(request)
        if not _is_agent(user):
            raise NotFound()
        payload = s.DeclareSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        communities = list(community_scope(user).filter(slug__in=data["communities"]))
        if len(communities) != len(set(data["communities"])):
            raise ValidationError({"communities": ["No such community."]})
        tickets = []
        for reference in data["tickets"]:
            try:
                tickets.append(ticket_get(user=user, reference=reference))
            except ApplicationError as exc:
                raise ValidationError({"tickets": [f"No such ticket: {reference}."]}) from exc
        page = None
        if data.get("page"):
            from incidents.paging.models import Page

            page = Page.objects.filter(pk=data["page"]).first()
            if page is None:
                raise ValidationError({"page": ["No such page."]})
        incident = lifecycle.incident_declare(
            actor=user, title=data["title"], severity=data["severity"], summary=data["summary"],
            communities=communities, tickets=tickets,
            commander=_agent_by_id(data.get("commander"), "commander"),
            impact_started_at=data.get("impact_started_at"), detected_at=data.get("detected_at"),
            maintenance=data["maintenance"], page=page, via="api",
        )  # fmt: skip
        return _detail(request, incident.pk, status.HTTP_201_CREATED)


class IncidentDetailApi(APIView):
    @extend_schema(responses=s.IncidentDetailSerializer)
    def get(self, request: Request, incident_id: int) -> Response:
        _visible(request, incident_id)
        return _detail(request, incident_id)

    @extend_schema(request=s.ChangeSerializer, responses=s.IncidentDetailSerializer)
    def patch(self, request: Request, incident_id: int) -> Response:
        incident = _writable(request, incident_id)
        payload = s.ChangeSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        lifecycle.incident_change(incident=incident, actor=_user(request), **payload.validated_data)
        return _detail(request, incident_id)


class IncidentTransitionApi(APIView):
    @extend_schema(request=s.TransitionSerializer, responses=s.IncidentDetailSerializer)
    def post(self, request: Request, incident_id: int) -> Response:
        incident = _writable(request, incident_id)
        payload = s.TransitionSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        lifecycle.incident_transition(
            incident=incident, to=payload.validated_data["status"], actor=_user(request),
            reason=payload.validated_data["reason"],
        )  # fmt: skip
        return _detail(request, incident_id)


class IncidentUpdatesApi(APIView):
    """Public status updates. POST (agents): post one (with `status: resolved`, the final
    update that resolves the incident); its fan-out runs in the workers."""

    @extend_schema(responses=s.StatusUpdateSerializer(many=True))
    def get(self, request: Request, incident_id: int) -> Response:
        incident = _visible(request, incident_id)
        reader = viewer_community(user=_user(request), incident=incident)
        rows = StatusUpdate.objects.filter(incident=incident).order_by("-created_at", "-id")
        context = {"community_name": reader.name if reader else None}
        return Response(s.StatusUpdateSerializer(rows, many=True, context=context).data)

    @extend_schema(request=s.UpdatePostSerializer, responses={201: s.StatusUpdateSerializer})
    @idempotent
    def post(self, request: Request, incident_id: int) -> Response:
        incident = _writable(request, incident_id)
        payload = s.UpdatePostSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        update = updates.incident_update_post(
            incident=incident, actor=_user(request), body=payload.validated_data["body"],
            status=payload.validated_data.get("status"),
        )  # fmt: skip
        return Response(s.StatusUpdateSerializer(update).data, status=status.HTTP_201_CREATED)


class IncidentTimelineApi(APIView):
    """The timeline (public entries only for anyone but agents). POST (agents): a note, its
    time settable to reconstruct what happened."""

    @extend_schema(responses=s.TimelineEntrySerializer(many=True))
    def get(self, request: Request, incident_id: int) -> Response:
        incident = _visible(request, incident_id)
        entries = timeline(user=_user(request), incident=incident)
        return Response(s.TimelineEntrySerializer(entries, many=True).data)

    @extend_schema(request=s.NoteSerializer, responses={201: s.TimelineEntrySerializer})
    def post(self, request: Request, incident_id: int) -> Response:
        incident = _writable(request, incident_id)
        payload = s.NoteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        entry = lifecycle.incident_note_add(
            incident=incident, actor=_user(request), text=payload.validated_data["text"],
            at=payload.validated_data.get("at"), public=payload.validated_data["public"],
        )  # fmt: skip
        return Response(s.TimelineEntrySerializer(entry).data, status=status.HTTP_201_CREATED)


class IncidentRolesApi(APIView):
    @extend_schema(request=s.RoleSerializer, responses=s.IncidentDetailSerializer)
    def post(self, request: Request, incident_id: int) -> Response:
        incident = _writable(request, incident_id)
        payload = s.RoleSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        role = payload.validated_data["role"]
        lifecycle.incident_assign_role(
            incident=incident, role=role,
            user=_agent_by_id(payload.validated_data["user"], "user"), actor=_user(request),
        )  # fmt: skip
        return _detail(request, incident_id)


class IncidentLinksApi(APIView):
    """POST a ticket reference or a community slug to link it; DELETE to unlink."""

    def _target(self, request: Request) -> dict[str, Any]:
        payload = s.LinkSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        user = _user(request)
        data = payload.validated_data
        if data.get("ticket"):
            try:
                return {"ticket": ticket_get(user=user, reference=data["ticket"])}
            except ApplicationError as exc:
                raise ValidationError({"ticket": ["No such ticket."]}) from exc
        if data.get("community"):
            community = community_scope(user).filter(slug=data["community"]).first()
            if community is None:
                raise ValidationError({"community": ["No such community."]})
            return {"community": community}
        raise ValidationError({"ticket": ["Name a ticket or a community."]})

    @extend_schema(request=s.LinkSerializer, responses=s.IncidentDetailSerializer)
    def post(self, request: Request, incident_id: int) -> Response:
        incident = _writable(request, incident_id)
        target = self._target(request)
        if "ticket" in target:
            lifecycle.incident_ticket_link(
                incident=incident, ticket=target["ticket"], actor=_user(request)
            )
        else:
            lifecycle.incident_community_add(
                incident=incident, community=target["community"], actor=_user(request)
            )
        return _detail(request, incident_id)

    @extend_schema(request=s.LinkSerializer, responses=s.IncidentDetailSerializer)
    def delete(self, request: Request, incident_id: int) -> Response:
        incident = _writable(request, incident_id)
        target = self._target(request)
        if "ticket" in target:
            lifecycle.incident_ticket_unlink(
                incident=incident, ticket=target["ticket"], actor=_user(request)
            )
        else:
            lifecycle.incident_community_remove(
                incident=incident, community=target["community"], actor=_user(request)
            )
        return _detail(request, incident_id)


class PostmortemApi(APIView):
    @extend_schema(responses=s.PostmortemSerializer)
    def get(self, request: Request, incident_id: int) -> Response:
        incident = _writable(request, incident_id)
        postmortem = Postmortem.objects.filter(incident=incident).first()
        if postmortem is None:
            raise NotFound()
        return Response(s.PostmortemSerializer(postmortem).data)

    @extend_schema(request=s.PostmortemSerializer, responses=s.PostmortemSerializer)
    def put(self, request: Request, incident_id: int) -> Response:
        incident = _writable(request, incident_id)
        payload = s.PostmortemSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        postmortem = postmortems.postmortem_save(
            incident=incident, actor=_user(request), **payload.validated_data
        )
        return Response(s.PostmortemSerializer(postmortem).data)


class ActionItemsApi(APIView):
    @extend_schema(responses=s.ActionItemSerializer(many=True))
    def get(self, request: Request, incident_id: int) -> Response:
        incident = _writable(request, incident_id)
        items = ActionItem.objects.filter(incident=incident).select_related("owner", "ticket")
        return Response(s.ActionItemSerializer(items, many=True).data)

    @extend_schema(request=s.ActionItemAddSerializer, responses={201: s.ActionItemSerializer})
    def post(self, request: Request, incident_id: int) -> Response:
        incident = _writable(request, incident_id)
        payload = s.ActionItemAddSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        ticket = None
        if data.get("ticket"):
            try:
                ticket = ticket_get(user=_user(request), reference=data["ticket"])
            except ApplicationError as exc:
                raise ValidationError({"ticket": ["No such ticket."]}) from exc
        item = postmortems.action_item_add(
            incident=incident, actor=_user(request), title=data["title"],
            owner=_agent_by_id(data.get("owner"), "owner"), due_date=data.get("due_date"),
            ticket=ticket,
        )  # fmt: skip
        return Response(s.ActionItemSerializer(item).data, status=status.HTTP_201_CREATED)


class ActionItemDetailApi(APIView):
    @extend_schema(request=s.ActionItemChangeSerializer, responses=s.ActionItemSerializer)
    def patch(self, request: Request, incident_id: int, item_id: int) -> Response:
        incident = _writable(request, incident_id)
        item = ActionItem.objects.filter(incident=incident, pk=item_id).first()
        if item is None:
            raise NotFound()
        payload = s.ActionItemChangeSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        item = postmortems.action_item_change(
            item=item, actor=_user(request), **payload.validated_data
        )
        return Response(s.ActionItemSerializer(item).data)


def uptime_data(community: Any, year: int, month: int) -> dict[str, Any]:
    figure = community_uptime(community=community, year=year, month=month)
    return {
        "community": community.slug,
        "month": f"{year:04d}-{month:02d}",
        "start": figure.start,
        "end": figure.end,
        "minutes_in_month": int(figure.total.total_seconds() // 60),
        "downtime_minutes": round(figure.downtime.total_seconds() / 60, 2),
        "planned_maintenance_excluded_minutes": round(
            figure.planned_excluded.total_seconds() / 60, 2
        ),
        "uptime_percent": figure.uptime_percent,
        "guarantee_percent": figure.guarantee,
        "met": figure.met,
        "credit_percent": figure.credit_percent,
        "windows": [[a, b] for a, b in figure.windows],
    }


class CommunityUptimeApi(APIView):
    """A community's uptime in a month against its plan's guarantee, and the credit owed
    (seed 001 §2.1). Its members and agents only (anyone else: 404)."""

    @extend_schema(parameters=[s.UptimeQuerySerializer], responses=s.UptimeSerializer)
    def get(self, request: Request, slug: str) -> Response:
        community = community_scope(_user(request)).filter(slug=slug).first()
        if community is None:
            raise NotFound()
        raw = request.query_params.get("month")
        if raw is None:
            today = timezone.localdate()
            parsed: tuple[int, int] | None = (today.year, today.month)
        else:
            parsed = parse_month(raw)
        if parsed is None:
            raise ValidationError({"month": ["Give the month as YYYY-MM."]})
        return Response(s.UptimeSerializer(uptime_data(community, *parsed)).data)
