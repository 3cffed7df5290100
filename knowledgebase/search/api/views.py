"""Search and suggestions: parse, call one service, render. Every result comes through
`articles_visible_to(user)`; anonymous callers are served only when KB_ANONYMOUS_READ is on."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from knowledgebase.search import services
from knowledgebase.search.api import serializers as s


class SignedInOrAnonymousReading(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if user is not None and user.is_authenticated:
            return True
        return bool(getattr(settings, "KB_ANONYMOUS_READ", False))


class SearchApi(APIView):
    permission_classes = [SignedInOrAnonymousReading]

    @extend_schema(
        parameters=[s.SearchQuerySerializer],
        responses={
            200: s.SearchResultSerializer,
            400: OpenApiResponse(description="Empty or too long q, unknown category."),
        },
    )
    def get(self, request: Request) -> Response:
        """Ranked, highlighted, paginated articles you may read. `q` is 1-200 characters."""
        params = s.SearchQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        result = services.search(
            user=request.user,
            q=str(data["q"]),
            category=str(data["category"]) or None,
            page=int(data["page"]),
            page_size=int(data["page_size"]),
        )
        return Response(s.SearchResultSerializer(result).data)


class SuggestApi(APIView):
    permission_classes = [SignedInOrAnonymousReading]

    @extend_schema(
        parameters=[s.SuggestQuerySerializer],
        responses={
            200: s.SuggestResultSerializer,
            400: OpenApiResponse(description="Empty or too long q."),
        },
    )
    def get(self, request: Request) -> Response:
        """The three best articles for a question being typed (the last word may be cut)."""
        params = s.SuggestQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        result = services.suggest(user=request.user, q=str(params.validated_data["q"]))
        return Response(s.suggestions(result))


class SearchOpenedApi(APIView):
    """The searcher opened an article from this search's results (or, for `answered`, said
    it answered their question). Only the searcher's own searches; anyone else gets 404."""

    answered = False

    @extend_schema(
        request=s.OpenedSerializer,
        responses={
            204: None,
            404: OpenApiResponse(description="Not your search, or not an article you may read."),
        },
    )
    def post(self, request: Request, search_id: int) -> Response:
        body = s.OpenedSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        record = services.record_answered if self.answered else services.record_open
        record(
            user=request.user, search_id=search_id, article_id=int(body.validated_data["article"])
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
