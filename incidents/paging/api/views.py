"""The paging API. Pages are for agents: to anyone else every endpoint is a 404, like any
resource that is not theirs. Alertmanager authenticates with its own bearer token.
Parse, call one service or selector, render."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import AuthenticationFailed, NotFound, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from communities.selectors import community_scope
from core.api.pagination import NewestFirstCursorPagination
from core.api.permissions import AgentsOnly
from core.idempotency import idempotent
from core.models import User
from incidents.paging.api import serializers as s
from incidents.paging.models import CauseKind, Page, PageState, Via
from incidents.paging.selectors import page_with_timeline, pages_list
from incidents.paging.services.pages import (
    page_acknowledge,
    page_resolve,
    page_resolve_by_key,
    page_silence,
    page_trigger,
    page_unacknowledge,
)
from tickets.models import Severity


def _user(request: Request) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _page_or_404(page_id: int) -> Page:
    page = page_with_timeline().filter(pk=page_id).first()
    if page is None:
        raise NotFound()
    return page


def _detail(page_id: int) -> Response:
    return Response(s.PageDetailSerializer(_page_or_404(page_id)).data)


class PageListApi(APIView):
    """Pages, newest first (cursor pagination). `state=open` lists triggered and
    acknowledged ones. POST: an integration triggers a page (cause `integration`)."""

    permission_classes = [AgentsOnly]

    @extend_schema(parameters=[s.PageListQuerySerializer], responses=s.PageSerializer(many=True))
    def get(self, request: Request) -> Response:
        query = s.PageListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        pages: QuerySet[Page] = pages_list()
        state = query.validated_data.get("state")
        if state == "open":
            pages = pages.exclude(state=PageState.RESOLVED)
        elif state:
            pages = pages.filter(state=state)
        paginator = NewestFirstCursorPagination()
        chunk = paginator.paginate_queryset(pages, request, view=self)
        return paginator.get_paginated_response(s.PageSerializer(chunk, many=True).data)

    @extend_schema(
        request=s.PageTriggerSerializer,
        responses={
            201: s.PageDetailSerializer,
            200: OpenApiResponse(
                s.PageDetailSerializer, description="Attached to the open page with this key."
            ),
        },
    )
    @idempotent
    def post(self, request: Request) -> Response:
        payload = s.PageTriggerSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        community = None
        if data.get("community"):
            community = community_scope(_user(request)).filter(slug=data["community"]).first()
            if community is None:
                raise ValidationError(
                    {"community": [serializers.ErrorDetail("No such community.", "does_not_exist")]}
                )
        key = data.get("dedup_key") or uuid.uuid4().hex
        page, created = page_trigger(
            cause=CauseKind.INTEGRATION,
            dedup_key=f"api:{key}",
            title=data["title"],
            details=data["details"],
            severity=data["severity"],
            service=data["service"],
            community=community,
            actor=_user(request),
            via=Via.API,
        )
        return Response(
            s.PageDetailSerializer(_page_or_404(page.pk)).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class PageDetailApi(APIView):
    """A page with its timeline."""

    permission_classes = [AgentsOnly]

    @extend_schema(responses=s.PageDetailSerializer)
    def get(self, request: Request, page_id: int) -> Response:
        return _detail(page_id)


class _PageActionApi(APIView):
    permission_classes = [AgentsOnly]

    def act(self, request: Request, page: Page) -> None:
        raise NotImplementedError

    @extend_schema(request=None, responses=s.PageDetailSerializer)
    def post(self, request: Request, page_id: int) -> Response:
        page = _page_or_404(page_id)
        self.act(request, page)
        return _detail(page.pk)


class PageAcknowledgeApi(_PageActionApi):
    """Acknowledge: stop the escalation. Again: nothing changes (a reminder is confirmed)."""

    def act(self, request: Request, page: Page) -> None:
        page_acknowledge(page=page, actor=_user(request), via=Via.API)


class PageUnacknowledgeApi(_PageActionApi):
    """Back to triggered: the escalation goes on from where it stood."""

    def act(self, request: Request, page: Page) -> None:
        page_unacknowledge(page=page, actor=_user(request), via=Via.API)


class PageResolveApi(_PageActionApi):
    """Resolve: close the page. Again: nothing changes."""

    def act(self, request: Request, page: Page) -> None:
        page_resolve(page=page, actor=_user(request), via=Via.API)


class PageSilenceApi(APIView):
    """Hold a triggered page's escalation for `minutes` (1 to 1440)."""

    permission_classes = [AgentsOnly]

    @extend_schema(request=s.PageSilenceSerializer, responses=s.PageDetailSerializer)
    def post(self, request: Request, page_id: int) -> Response:
        page = _page_or_404(page_id)
        payload = s.PageSilenceSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        page_silence(
            page=page, minutes=payload.validated_data["minutes"], actor=_user(request), via=Via.API
        )
        return _detail(page.pk)


# ---------------------------------------------------------------- Alertmanager

ALERT_SEVERITIES = {
    "critical": Severity.CRITICAL,
    "page": Severity.CRITICAL,
    "high": Severity.HIGH,
    "error": Severity.HIGH,
    "major": Severity.HIGH,
    "warning": Severity.MEDIUM,
    "medium": Severity.MEDIUM,
    "minor": Severity.LOW,
    "low": Severity.LOW,
    "info": Severity.LOW,
}


def _alert_key(alert: dict[str, Any], group_key: str) -> str:
    fingerprint = alert.get("fingerprint")
    if fingerprint:
        return f"alertmanager:{fingerprint}"
    labels = json.dumps(alert["labels"], sort_keys=True)
    digest = hashlib.sha256(f"{group_key}\n{labels}".encode()).hexdigest()[:32]
    return f"alertmanager:{digest}"


class AlertmanagerApi(APIView):
    """Prometheus Alertmanager's webhook (`webhook_configs` with
    `http_config.authorization.credentials` = PAGING_ALERTMANAGER_TOKEN). Firing alerts
    trigger pages (deduplicated by fingerprint), resolved alerts resolve them."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    # Alertmanager batches and retries by itself; an alert storm must not be refused.
    throttle_classes: list[type] = []

    def get_authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="alertmanager"'

    def _check_token(self, request: Request) -> None:
        expected = settings.PAGING_ALERTMANAGER_TOKEN
        if not expected:
            raise NotFound()
        header = request.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode(), expected.encode()
        ):
            raise AuthenticationFailed("A valid bearer token is required.")

    @extend_schema(
        request=s.AlertmanagerSerializer,
        responses=s.AlertmanagerResultSerializer,
        parameters=[
            OpenApiParameter(
                "Authorization", str, OpenApiParameter.HEADER, description="Bearer <token>"
            )
        ],
        auth=[],
    )
    def post(self, request: Request) -> Response:
        self._check_token(request)
        payload = s.AlertmanagerSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        group_key = data.get("groupKey", "")
        result: dict[str, list[int]] = {"triggered": [], "attached": [], "resolved": []}
        with transaction.atomic():
            for alert in data["alerts"]:
                key = _alert_key(alert, group_key)
                labels, annotations = alert["labels"], alert.get("annotations", {})
                if alert["status"] == "resolved":
                    page = page_resolve_by_key(
                        dedup_key=key, actor=None, via=Via.INTEGRATION, reason="The alert resolved."
                    )
                    if page is not None:
                        result["resolved"].append(page.pk)
                    continue
                title = (
                    annotations.get("summary") or labels.get("alertname") or "Alertmanager alert"
                )
                page, created = page_trigger(
                    cause=CauseKind.INTEGRATION,
                    dedup_key=key,
                    title=title,
                    details=annotations.get("description", ""),
                    severity=ALERT_SEVERITIES.get(
                        labels.get("severity", "").lower(), Severity.HIGH
                    ),
                    service=(labels.get("service") or labels.get("job") or "")[:100],
                    source_data={"labels": labels, "annotations": annotations,
                                 "generatorURL": alert.get("generatorURL", "")},
                    via=Via.INTEGRATION,
                )  # fmt: skip
                result["triggered" if created else "attached"].append(page.pk)
        return Response(s.AlertmanagerResultSerializer(result).data)
