"""Communities, memberships, service plans and budgets: read for members, write for agents."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from communities.api import serializers as s
from communities.models import Community, Membership, ServicePlan
from communities.selectors import (
    budget_usage,
    community_scope,
    is_representative,
    membership_scope,
    service_plan_list,
)
from communities.services import (
    community_create,
    community_update,
    membership_add,
    membership_remove,
    membership_set_role,
    service_plan_create,
    service_plan_update,
    support_budget_set,
)
from core.api.pagination import NewestFirstCursorPagination
from core.api.permissions import IsAgentOrReadOnly
from core.errors import NotFound
from core.idempotency import idempotent
from core.models import User
from core.selectors import user_get_by_email


def _user(request: Request) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _field_error(field: str, message: str, code: str = "does_not_exist") -> ValidationError:
    return ValidationError({field: [serializers.ErrorDetail(message, code=code)]})


class ServicePlanViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[ServicePlan]
):
    serializer_class = s.ServicePlanSerializer
    permission_classes = [IsAgentOrReadOnly]
    pagination_class = None
    lookup_field = "slug"

    def get_queryset(self) -> QuerySet[ServicePlan]:
        return service_plan_list()

    @idempotent
    def create(self, request: Request) -> Response:
        payload = s.ServicePlanSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        plan = service_plan_create(**payload.validated_data)
        return Response(s.ServicePlanSerializer(plan).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, slug: str) -> Response:
        plan = self.get_object()
        payload = s.ServicePlanSerializer(plan, data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        plan = service_plan_update(plan=plan, data=payload.validated_data)
        return Response(s.ServicePlanSerializer(plan).data)


class CommunityViewSet(viewsets.GenericViewSet[Community]):
    """The communities you belong to (agents: all of them)."""

    serializer_class = s.CommunitySerializer
    permission_classes = [IsAgentOrReadOnly]
    pagination_class = None
    lookup_field = "slug"

    def get_queryset(self) -> QuerySet[Community]:
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no user
            return Community.objects.none()
        return community_scope(_user(self.request))

    def list(self, request: Request) -> Response:
        return Response(s.CommunitySerializer(self.get_queryset(), many=True).data)

    def retrieve(self, request: Request, slug: str) -> Response:
        return Response(s.CommunitySerializer(self.get_object()).data)

    @extend_schema(request=s.CommunityWriteSerializer, responses={201: s.CommunitySerializer})
    @idempotent
    def create(self, request: Request) -> Response:
        payload = s.CommunityWriteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        community = community_create(**payload.validated_data)
        return Response(s.CommunitySerializer(community).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.CommunityWriteSerializer, responses=s.CommunitySerializer)
    def partial_update(self, request: Request, slug: str) -> Response:
        community = self.get_object()
        payload = s.CommunityWriteSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        community = community_update(community=community, data=payload.validated_data)
        return Response(s.CommunitySerializer(community).data)

    @extend_schema(methods=["GET"], request=None, responses=s.BudgetSerializer)
    @extend_schema(methods=["PUT"], request=s.BudgetWriteSerializer, responses=s.BudgetSerializer)
    @action(detail=True, methods=["get", "put"])
    def budget(self, request: Request, slug: str) -> Response:
        """Hours used and left in the current budget period. Agents and representatives."""
        community = self.get_object()
        user = _user(request)
        if not (user.is_staff or is_representative(user=user, community_id=community.pk)):
            raise NotFound("No such community.")
        if request.method == "PUT":
            payload = s.BudgetWriteSerializer(data=request.data)
            payload.is_valid(raise_exception=True)
            support_budget_set(community=community, **payload.validated_data)
        return Response(s.BudgetSerializer(budget_usage(community=community)).data)


class MembershipViewSet(viewsets.GenericViewSet[Membership]):
    serializer_class = s.MembershipSerializer
    permission_classes = [IsAgentOrReadOnly]
    pagination_class = NewestFirstCursorPagination
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[Membership]:
        if getattr(self, "swagger_fake_view", False):
            return Membership.objects.none()
        memberships = membership_scope(_user(self.request))
        community = self.request.query_params.get("community")
        if community:
            memberships = memberships.filter(community__slug=community)
        return memberships

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(s.MembershipSerializer(page, many=True).data)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(s.MembershipSerializer(self.get_object()).data)

    @extend_schema(request=s.MembershipCreateSerializer, responses={201: s.MembershipSerializer})
    @idempotent
    def create(self, request: Request) -> Response:
        payload = s.MembershipCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        community = community_scope(_user(request)).filter(slug=data["community"]).first()
        if community is None:
            raise _field_error("community", "No such community.")
        person = user_get_by_email(email=data["user"])
        if person is None:
            raise _field_error("user", "No such person.")
        membership = membership_add(community=community, user=person, role=data["role"])
        return Response(s.MembershipSerializer(membership).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.MembershipUpdateSerializer, responses=s.MembershipSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        membership = self.get_object()
        payload = s.MembershipUpdateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        membership = membership_set_role(membership=membership, role=payload.validated_data["role"])
        return Response(s.MembershipSerializer(membership).data)

    def destroy(self, request: Request, pk: str) -> Response:
        membership_remove(membership=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeApi(APIView):
    @extend_schema(responses=s.MeSerializer)
    def get(self, request: Request) -> Response:
        return Response(s.MeSerializer(_user(request)).data)
