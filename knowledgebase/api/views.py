"""The knowledge-base API: parse, call one service or selector, render.

Reads are scoped by `articles_visible_to` (anonymous readers only with KB_ANONYMOUS_READ);
writes are the agents', through knowledgebase.services. An article you cannot read is 404
for every method; one you can read but not change is 403.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from communities.models import Community
from core.api.pagination import NewestFirstCursorPagination
from core.models import User
from knowledgebase import services
from knowledgebase.api import serializers as s
from knowledgebase.models import Article, ArticleKind, Category
from knowledgebase.selectors import article_list, category_list, is_kb_staff
from knowledgebase.states import ArticleStatus


class KbReaders(BasePermission):
    """Signed-in users read (through the scope); anonymous visitors read when
    KB_ANONYMOUS_READ is on. Feedback is for readers; other writes check for agents."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.user and request.user.is_authenticated:
            return True
        return request.method in SAFE_METHODS and bool(
            getattr(settings, "KB_ANONYMOUS_READ", False)
        )


def _no_such(field: str, what: str) -> Any:
    raise ValidationError(
        {field: [serializers.ErrorDetail(f"No such {what}.", code="does_not_exist")]}
    )


def _require_agent(request: Request) -> User:
    user = request.user
    if not is_kb_staff(user):
        raise PermissionDenied("Only agents change articles.")
    assert isinstance(user, User)
    return user


class CategoryViewSet(viewsets.ReadOnlyModelViewSet[Category]):
    """The knowledge base's categories, a tree in order (`parent` is the parent's slug)."""

    serializer_class = s.CategorySerializer
    permission_classes = [KbReaders]
    pagination_class = None

    def get_queryset(self) -> QuerySet[Category]:
        return category_list()


class ArticleViewSet(viewsets.GenericViewSet[Article]):
    """Articles you may read: published public ones, published ones restricted to your
    communities, and everything for agents. Filters: `category` (slug), `kind`, `tag`, and
    for agents `status` and `audience`."""

    permission_classes = [KbReaders]
    pagination_class = NewestFirstCursorPagination
    filterset_class = None

    def get_queryset(self) -> QuerySet[Article]:
        if getattr(self, "swagger_fake_view", False):
            return Article.objects.none()
        articles = article_list(self.request.user)
        if is_kb_staff(self.request.user):
            articles = articles.prefetch_related(
                Prefetch("communities", queryset=Community.objects.only("id", "slug"))
            )
        return articles

    def _staff(self) -> bool:
        return is_kb_staff(self.request.user)

    def _article(self, pk: str) -> Article:
        if not str(pk).isdigit():
            raise NotFound()
        article = (
            self.get_queryset()
            .select_related("author", "reviewer")
            .defer(None)
            .prefetch_related("linked_tickets")
            .filter(pk=pk)
            .first()
        )
        if article is None:
            raise NotFound()
        return article

    def _detail(self, article: Article) -> dict[str, Any]:
        if self._staff():
            return dict(s.StaffArticleDetailSerializer(article).data)
        return dict(s.ArticleDetailSerializer(article).data)

    @extend_schema(
        parameters=[
            OpenApiParameter("category", str), OpenApiParameter("kind", str),
            OpenApiParameter("tag", str), OpenApiParameter("status", str),
            OpenApiParameter("audience", str),
        ],
        responses=s.ArticleSerializer(many=True),
    )  # fmt: skip
    def list(self, request: Request) -> Response:
        articles = self.get_queryset()
        params = request.query_params
        if params.get("category"):
            category = Category.objects.filter(slug=params["category"]).first()
            if category is None:
                _no_such("category", "category")
            articles = articles.filter(category=category)
        if params.get("kind"):
            if params["kind"] not in ArticleKind.values:
                _no_such("kind", "kind")
            articles = articles.filter(kind=params["kind"])
        if params.get("tag"):
            articles = articles.filter(tags__contains=[params["tag"].strip().lower()])
        if self._staff():
            if params.get("status"):
                if params["status"] not in ArticleStatus.values:
                    _no_such("status", "status")
                articles = articles.filter(status=params["status"])
            if params.get("audience"):
                articles = articles.filter(audience=params["audience"])
        page = self.paginate_queryset(articles)
        serializer = s.StaffArticleSerializer if self._staff() else s.ArticleSerializer
        return self.get_paginated_response(serializer(page, many=True).data)

    @extend_schema(responses=s.ArticleDetailSerializer)
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(self._detail(self._article(pk)))

    def _data(self, validated: dict[str, Any]) -> dict[str, Any]:
        data = dict(validated)
        if "communities" in data:
            slugs = list(dict.fromkeys(data["communities"]))
            found = list(Community.objects.filter(slug__in=slugs))
            if len(found) != len(slugs):
                _no_such("communities", "community")
            data["communities"] = found
        if "owner" in data:
            owner = User.objects.filter(pk=data["owner"], is_staff=True, is_active=True).first()
            data["owner"] = owner or _no_such("owner", "agent")
        if "linked_tickets" in data:
            from tickets.selectors import parse_reference, ticket_scope

            parsed = [parse_reference(r) for r in data["linked_tickets"]]
            ids = {i for i in parsed if i is not None}
            tickets = list(ticket_scope(_require_agent(self.request)).filter(pk__in=ids))
            if None in parsed or len(tickets) != len(ids):
                _no_such("linked_tickets", "ticket")
            data["linked_tickets"] = tickets
        if not data.get("slug"):
            data.pop("slug", None)
        return data

    @extend_schema(
        request=s.ArticleWriteSerializer, responses={201: s.StaffArticleDetailSerializer}
    )
    def create(self, request: Request) -> Response:
        actor = _require_agent(request)
        payload = s.ArticleWriteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        article = services.article_create(actor=actor, data=self._data(payload.validated_data))
        return Response(
            self._detail(self._article(str(article.pk))), status=status.HTTP_201_CREATED
        )

    @extend_schema(request=s.ArticleUpdateSerializer, responses=s.StaffArticleDetailSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        article = self._article(pk)
        actor = _require_agent(request)
        payload = s.ArticleUpdateSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        services.article_update(
            article=article, actor=actor, data=self._data(payload.validated_data)
        )
        return Response(self._detail(self._article(pk)))

    @extend_schema(request=s.TransitionSerializer, responses=s.StaffArticleDetailSerializer)
    @action(detail=True, methods=["post"], pagination_class=None)
    def transitions(self, request: Request, pk: str) -> Response:
        """Apply a workflow transition: submit, approve (publish), reject (with a reason),
        revise, archive, unarchive. 409 when the status does not allow it."""
        article = self._article(pk)
        actor = _require_agent(request)
        payload = s.TransitionSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.article_transition(
            article=article,
            name=payload.validated_data["transition"],
            actor=actor,
            reason=payload.validated_data.get("reason", ""),
        )
        return Response(self._detail(self._article(pk)))

    @extend_schema(responses=s.VersionSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None)
    def versions(self, request: Request, pk: str) -> Response:
        article = self._article(pk)
        _require_agent(request)
        history = article.history.select_related("history_user").order_by("-history_id")
        return Response(s.VersionSerializer(history[:200], many=True).data)

    @extend_schema(request=s.RestoreSerializer, responses=s.StaffArticleDetailSerializer)
    @action(detail=True, methods=["post"], pagination_class=None)
    def restore(self, request: Request, pk: str) -> Response:
        article = self._article(pk)
        actor = _require_agent(request)
        payload = s.RestoreSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.article_restore_version(
            article=article, history_id=payload.validated_data["version"], actor=actor
        )
        return Response(self._detail(self._article(pk)))

    @extend_schema(
        methods=["POST"], request=s.FeedbackWriteSerializer, responses={201: s.FeedbackSerializer}
    )
    @extend_schema(methods=["GET"], responses=s.FeedbackSerializer(many=True))
    @action(detail=True, methods=["get", "post"], pagination_class=None)
    def feedback(self, request: Request, pk: str) -> Response:
        """POST: "was this helpful?" (one vote per reader, which they may change). GET: the
        votes and comments, for agents."""
        article = self._article(pk)
        if request.method == "GET":
            _require_agent(request)
            votes = article.feedback.select_related("user")[:200]
            return Response(s.FeedbackSerializer(votes, many=True).data)
        payload = s.FeedbackWriteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        vote = services.feedback_record(
            article=article,
            user=request.user,
            helpful=payload.validated_data["helpful"],
            comment=payload.validated_data.get("comment", ""),
        )
        return Response(s.FeedbackSerializer(vote).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.FromTicketSerializer, responses={201: s.StaffArticleDetailSerializer})
    @action(detail=False, methods=["post"], url_path="from-ticket", pagination_class=None)
    def from_ticket(self, request: Request) -> Response:
        """A draft written from a ticket's public conversation, sent for review."""
        actor = _require_agent(request)
        payload = s.FromTicketSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        from tickets.selectors import parse_reference, ticket_scope

        ticket_id = parse_reference(payload.validated_data["ticket"])
        ticket = ticket_scope(actor).filter(pk=ticket_id).first() if ticket_id else None
        if ticket is None:
            return _no_such("ticket", "ticket")  # type: ignore[no-any-return]
        article = services.article_create_from_ticket(ticket=ticket, actor=actor)
        return Response(
            self._detail(self._article(str(article.pk))), status=status.HTTP_201_CREATED
        )
