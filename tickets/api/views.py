"""The tickets API: parse, call one service or selector, render."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import FileResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from communities.models import TimeEntry
from communities.selectors import community_scope, time_entry_scope
from communities.services import time_entry_delete, time_entry_log
from core.api.pagination import NewestFirstCursorPagination
from core.api.permissions import IsAgentOrReadOnly
from core.idempotency import idempotent
from core.models import User
from core.selectors import agent_get, user_get_by_email
from tickets.api import serializers as s
from tickets.api.extensions import JUST_OPENED
from tickets.filters import TicketFilter
from tickets.models import Attachment, Channel, Message, Ticket
from tickets.selectors import (
    attachment_scope,
    ticket_event_scope,
    ticket_get,
    ticket_list,
    ticket_messages,
    transitions_available,
)
from tickets.services.attachments import attachment_add
from tickets.services.conversation import message_add
from tickets.services.lifecycle import ticket_open, ticket_transition, ticket_update

_ERROR_409 = OpenApiResponse(description="Not possible in the ticket's current status.")


class OldestFirstCursorPagination(NewestFirstCursorPagination):
    ordering = "id"
    page_size = 50


def _user(request: Request) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


class TicketViewSet(viewsets.GenericViewSet[Ticket]):
    """Tickets you may see: all of them for agents, your communities' for representatives,
    your own for other members."""

    lookup_field = "reference"
    lookup_value_regex = "[^/]+"
    serializer_class = s.TicketSerializer
    pagination_class = NewestFirstCursorPagination
    filterset_class = TicketFilter

    def get_queryset(self) -> QuerySet[Ticket]:
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no user
            return Ticket.objects.none()
        return ticket_list(_user(self.request))

    def _ticket(self) -> Ticket:
        return ticket_get(user=_user(self.request), reference=self.kwargs["reference"])

    @extend_schema(responses=s.TicketSerializer(many=True))
    def list(self, request: Request) -> Response:
        tickets = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(tickets)
        return self.get_paginated_response(s.TicketSerializer(page, many=True).data)

    @extend_schema(request=s.TicketCreateSerializer, responses={201: s.TicketDetailSerializer})
    @idempotent
    def create(self, request: Request) -> Response:
        payload = s.TicketCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        user = _user(request)
        community = community_scope(user).filter(slug=data["community"]).first()
        if community is None:
            raise ValidationError(
                {
                    "community": [
                        serializers.ErrorDetail("No such community.", code="does_not_exist")
                    ]
                }
            )
        requester = user
        if "requester" in data:
            requester = user_get_by_email(email=data["requester"]) or _no_such(
                "requester", "person"
            )
        ticket = ticket_open(
            community=community,
            requester=requester,
            subject=data["subject"],
            description=data["description"],
            kind=data["kind"],
            severity=data["severity"],
            channel=Channel.API,
            opened_by=user,
        )
        data = s.TicketDetailSerializer(ticket, context={JUST_OPENED: True}).data
        return Response(data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=s.TicketDetailSerializer)
    def retrieve(self, request: Request, reference: str) -> Response:
        return Response(s.TicketDetailSerializer(self._ticket()).data)

    @extend_schema(request=s.TicketUpdateSerializer, responses=s.TicketDetailSerializer)
    def partial_update(self, request: Request, reference: str) -> Response:
        ticket = self._ticket()
        payload = s.TicketUpdateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        if data.get("assignee") is not None:
            data["assignee"] = agent_get(user_id=data["assignee"]) or _no_such("assignee", "agent")
        ticket = ticket_update(ticket=ticket, actor=_user(request), data=data)
        return Response(
            s.TicketDetailSerializer(ticket_get(user=_user(request), reference=reference)).data
        )

    @extend_schema(
        methods=["GET"], request=None, responses=s.AvailableTransitionSerializer(many=True),
        description="The transitions you may apply to this ticket now.",
    )  # fmt: skip
    @extend_schema(
        methods=["POST"], request=s.TransitionSerializer,
        responses={200: s.TicketDetailSerializer, 409: _ERROR_409},
    )  # fmt: skip
    @action(detail=True, methods=["get", "post"], pagination_class=None, filterset_class=None)
    def transitions(self, request: Request, reference: str) -> Response:
        ticket = self._ticket()
        if request.method == "GET":
            available = transitions_available(user=_user(request), ticket=ticket)
            return Response(s.AvailableTransitionSerializer(available, many=True).data)
        return self._transition(request, ticket)

    @idempotent
    def _transition(self, request: Request, ticket: Ticket) -> Response:
        payload = s.TransitionSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        ticket = ticket_transition(
            ticket=ticket,
            name=payload.validated_data["transition"],
            actor=_user(request),
            note=payload.validated_data["note"],
        )
        return Response(
            s.TicketDetailSerializer(
                ticket_get(user=_user(request), reference=ticket.reference)
            ).data
        )

    @extend_schema(responses=s.TicketEventSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, filterset_class=None)
    def events(self, request: Request, reference: str) -> Response:
        """The ticket's audit trail, oldest first. Members do not see internal notes' entries."""
        ticket = self._ticket()
        events = ticket_event_scope(_user(request)).filter(ticket=ticket).select_related("actor")
        paginator = OldestFirstCursorPagination()
        page = paginator.paginate_queryset(events, request, view=self)
        return paginator.get_paginated_response(s.TicketEventSerializer(page, many=True).data)


def _no_such(field: str, what: str) -> Any:
    raise ValidationError(
        {field: [serializers.ErrorDetail(f"No such {what}.", code="does_not_exist")]}
    )


class TicketMessageViewSet(viewsets.GenericViewSet[Message]):
    """The conversation on a ticket. Internal notes are shown to agents only."""

    serializer_class = s.MessageSerializer
    pagination_class = OldestFirstCursorPagination
    queryset = Message.objects.none()  # for the schema only; every read goes through a scope

    @extend_schema(responses=s.MessageSerializer(many=True))
    def list(self, request: Request, reference: str) -> Response:
        ticket = ticket_get(user=_user(request), reference=reference)
        page = self.paginate_queryset(ticket_messages(user=_user(request), ticket=ticket))
        return self.get_paginated_response(s.MessageSerializer(page, many=True).data)

    @extend_schema(request=s.MessageCreateSerializer, responses={201: s.MessageSerializer})
    @idempotent
    def create(self, request: Request, reference: str) -> Response:
        ticket = ticket_get(user=_user(request), reference=reference)
        payload = s.MessageCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        message = message_add(
            ticket=ticket,
            author=_user(request),
            body=payload.validated_data["body"],
            kind=payload.validated_data["kind"],
            channel=Channel.API,
        )
        message = ticket_messages(user=_user(request), ticket=ticket).get(pk=message.pk)
        return Response(s.MessageSerializer(message).data, status=status.HTTP_201_CREATED)


class TicketAttachmentViewSet(viewsets.GenericViewSet[Attachment]):
    """Files on a ticket. Files on internal notes are shown to agents only."""

    serializer_class = s.AttachmentSerializer
    pagination_class = OldestFirstCursorPagination
    queryset = Attachment.objects.none()  # for the schema only; every read goes through a scope
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    @extend_schema(responses=s.AttachmentSerializer(many=True))
    def list(self, request: Request, reference: str) -> Response:
        ticket = ticket_get(user=_user(request), reference=reference)
        attachments = (
            attachment_scope(_user(request)).filter(ticket=ticket).select_related("uploaded_by")
        )
        page = self.paginate_queryset(attachments)
        return self.get_paginated_response(s.AttachmentSerializer(page, many=True).data)

    @extend_schema(request=s.AttachmentUploadSerializer, responses={201: s.AttachmentSerializer})
    @idempotent
    def create(self, request: Request, reference: str) -> Response:
        ticket = ticket_get(user=_user(request), reference=reference)
        payload = s.AttachmentUploadSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        message = None
        if "message" in payload.validated_data:
            message = (
                ticket_messages(user=_user(request), ticket=ticket)
                .filter(pk=payload.validated_data["message"])
                .first()
            ) or _no_such("message", "message on this ticket")
        attachment = attachment_add(
            ticket=ticket,
            uploaded_by=_user(request),
            upload=payload.validated_data["file"],
            message=message,
        )
        return Response(s.AttachmentSerializer(attachment).data, status=status.HTTP_201_CREATED)


class AttachmentViewSet(viewsets.GenericViewSet[Attachment]):
    serializer_class = s.AttachmentSerializer
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[Attachment]:
        if getattr(self, "swagger_fake_view", False):
            return Attachment.objects.none()
        return attachment_scope(_user(self.request)).select_related("uploaded_by")

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(s.AttachmentSerializer(self.get_object()).data)

    @extend_schema(
        responses={(200, "application/octet-stream"): OpenApiResponse(description="The file.")}
    )
    @action(detail=True, methods=["get"])
    def download(self, request: Request, pk: str) -> FileResponse:
        attachment = self.get_object()
        response = FileResponse(
            attachment.file.open("rb"),
            as_attachment=True,
            filename=attachment.filename,
            content_type=attachment.content_type,
        )
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
        response["Cache-Control"] = "private, no-store"
        return response


class TicketTimeEntryViewSet(viewsets.GenericViewSet[TimeEntry]):
    """Time logged on a ticket against its community's support budget."""

    serializer_class = s.TimeEntrySerializer
    pagination_class = OldestFirstCursorPagination
    queryset = TimeEntry.objects.none()  # for the schema only; every read goes through a scope

    @extend_schema(responses=s.TimeEntrySerializer(many=True))
    def list(self, request: Request, reference: str) -> Response:
        ticket = ticket_get(user=_user(request), reference=reference)
        page = self.paginate_queryset(time_entry_scope(_user(request)).filter(ticket=ticket))
        return self.get_paginated_response(s.TimeEntrySerializer(page, many=True).data)

    @extend_schema(request=s.TimeEntryCreateSerializer, responses={201: s.TimeEntrySerializer})
    @idempotent
    def create(self, request: Request, reference: str) -> Response:
        ticket = ticket_get(user=_user(request), reference=reference)
        payload = s.TimeEntryCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        entry = time_entry_log(ticket=ticket, agent=_user(request), **payload.validated_data)
        return Response(s.TimeEntrySerializer(entry).data, status=status.HTTP_201_CREATED)


class TimeEntryViewSet(viewsets.GenericViewSet[TimeEntry]):
    """Time logged against support budgets: agents see all of it, representatives their
    communities'. Filter with `community` (slug)."""

    serializer_class = s.TimeEntrySerializer
    permission_classes = [IsAgentOrReadOnly]
    pagination_class = NewestFirstCursorPagination
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[TimeEntry]:
        if getattr(self, "swagger_fake_view", False):
            return TimeEntry.objects.none()
        entries = time_entry_scope(_user(self.request))
        community = self.request.query_params.get("community")
        if community:
            entries = entries.filter(community__slug=community)
        return entries

    @extend_schema(responses=s.TimeEntrySerializer(many=True))
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(s.TimeEntrySerializer(page, many=True).data)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(s.TimeEntrySerializer(self.get_object()).data)

    def destroy(self, request: Request, pk: str) -> Response:
        time_entry_delete(entry=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
