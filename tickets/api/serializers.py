"""Shapes of the tickets API. Input serializers only parse; output serializers only render."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from tickets.api.extensions import JUST_OPENED, TicketListSerializer, with_extensions
from tickets.models import (
    Attachment,
    Category,
    Message,
    Severity,
    Ticket,
    TicketEvent,
    TicketKind,
    Tier,
    format_reference,
)
from tickets.states import TRANSITIONS

MANUAL_TRANSITIONS = sorted(name for name, t in TRANSITIONS.items() if not t.automatic)


class PersonSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(source="pk")
    name = serializers.CharField(source="display_name")


class AgentFlagPersonSerializer(PersonSerializer):
    is_agent = serializers.BooleanField(source="is_staff")


class CommunityRefSerializer(serializers.Serializer[Any]):
    slug = serializers.SlugField()
    name = serializers.CharField()


class CategoryRefSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(source="pk")
    name = serializers.CharField()


class TicketSerializer(serializers.ModelSerializer[Ticket]):
    reference = serializers.CharField(read_only=True)
    community = CommunityRefSerializer()
    requester = PersonSerializer()
    assignee = PersonSerializer(allow_null=True)
    category = CategoryRefSerializer(allow_null=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = Ticket
        fields: tuple[str, ...] = (
            "reference", "id", "url", "community", "requester", "subject", "kind", "severity",
            "tier", "status", "category", "assignee", "channel", "tags", "created_at",
            "updated_at", "status_changed_at", "first_responded_at", "resolved_at", "closed_at",
        )  # fmt: skip
        read_only_fields = fields
        list_serializer_class = TicketListSerializer

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        return with_extensions(super().get_fields())

    def get_url(self, ticket: Ticket) -> str:
        return reverse("api:ticket-detail", kwargs={"reference": ticket.reference})


class SatisfactionSerializer(serializers.Serializer[Any]):
    score = serializers.CharField()
    comment = serializers.CharField()
    answered_at = serializers.DateTimeField()


class TicketDetailSerializer(TicketSerializer):
    merged_into = serializers.SerializerMethodField()
    satisfaction = serializers.SerializerMethodField()

    class Meta(TicketSerializer.Meta):
        fields = (*TicketSerializer.Meta.fields, "description", "merged_into", "satisfaction")
        read_only_fields = fields

    def get_merged_into(self, ticket: Ticket) -> str | None:
        return format_reference(ticket.merged_into_id) if ticket.merged_into_id else None

    @extend_schema_field(SatisfactionSerializer(allow_null=True))
    def get_satisfaction(self, ticket: Ticket) -> dict[str, Any] | None:
        """The requester's latest answered rating of a resolution."""
        if self.context.get(JUST_OPENED):
            return None
        rating = ticket.ratings.filter(answered_at__isnull=False).first()
        return SatisfactionSerializer(rating).data if rating else None


class TicketCreateSerializer(serializers.Serializer[Any]):
    community = serializers.SlugField(help_text="Slug of a community you belong to.")
    subject = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=50_000)
    kind = serializers.ChoiceField(choices=TicketKind.choices, default=TicketKind.QUESTION)
    severity = serializers.ChoiceField(choices=Severity.choices, default=Severity.MEDIUM)
    requester = serializers.EmailField(
        required=False, help_text="Agents only: open the ticket on this member's behalf."
    )


class TicketUpdateSerializer(serializers.Serializer[Any]):
    subject = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(max_length=50_000, required=False)
    kind = serializers.ChoiceField(choices=TicketKind.choices, required=False)
    severity = serializers.ChoiceField(choices=Severity.choices, required=False)
    tier = serializers.ChoiceField(choices=Tier.choices, required=False)
    category = serializers.PrimaryKeyRelatedField(
        queryset=Category.objects.filter(active=True), allow_null=True, required=False
    )
    tags = serializers.ListField(
        child=serializers.CharField(max_length=50), max_length=20, required=False
    )
    assignee = serializers.IntegerField(
        allow_null=True, required=False, help_text="Id of an agent, or null to unassign."
    )


class TransitionSerializer(serializers.Serializer[Any]):
    transition = serializers.ChoiceField(choices=MANUAL_TRANSITIONS)
    note = serializers.CharField(
        max_length=5_000, required=False, allow_blank=True, default="",
        help_text="Why; required to decline, and sent to the requester.",
    )  # fmt: skip


class AvailableTransitionSerializer(serializers.Serializer[Any]):
    name = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # a field, not Field.label
    target = serializers.CharField()
    requires_reason = serializers.BooleanField()


class AttachmentSerializer(serializers.ModelSerializer[Attachment]):
    ticket = serializers.SerializerMethodField()
    uploaded_by = PersonSerializer()
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Attachment
        fields = (
            "id", "ticket", "message", "filename", "content_type", "size", "sha256",
            "uploaded_by", "created_at", "download_url",
        )  # fmt: skip
        read_only_fields = fields

    def get_ticket(self, attachment: Attachment) -> str:
        return Ticket(pk=attachment.ticket_id).reference

    def get_download_url(self, attachment: Attachment) -> str:
        return reverse("api:attachment-download", kwargs={"pk": attachment.pk})


class AttachmentUploadSerializer(serializers.Serializer[Any]):
    file = serializers.FileField(allow_empty_file=False)
    message = serializers.IntegerField(required=False, help_text="Attach to this message.")


class MessageAttachmentSerializer(serializers.ModelSerializer[Attachment]):
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Attachment
        fields = ("id", "filename", "content_type", "size", "download_url")
        read_only_fields = fields

    def get_download_url(self, attachment: Attachment) -> str:
        return reverse("api:attachment-download", kwargs={"pk": attachment.pk})


class MessageSerializer(serializers.ModelSerializer[Message]):
    author = AgentFlagPersonSerializer()
    attachments = MessageAttachmentSerializer(many=True)

    class Meta:
        model = Message
        fields = ("id", "kind", "body", "channel", "author", "created_at", "attachments")
        read_only_fields = fields


class MessageCreateSerializer(serializers.Serializer[Any]):
    body = serializers.CharField(max_length=50_000)
    kind = serializers.ChoiceField(choices=Message.Kind.choices, default=Message.Kind.PUBLIC)


class TicketEventSerializer(serializers.ModelSerializer[TicketEvent]):
    actor = PersonSerializer(allow_null=True)

    class Meta:
        model = TicketEvent
        fields = ("id", "kind", "actor", "data", "created_at")
        read_only_fields = fields


class TimeEntrySerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(source="pk")
    ticket = serializers.SerializerMethodField()
    agent = PersonSerializer()
    minutes = serializers.IntegerField()
    note = serializers.CharField()
    worked_at = serializers.DateTimeField()

    def get_ticket(self, entry: Any) -> str:
        return Ticket(pk=entry.ticket_id).reference


class TimeEntryCreateSerializer(serializers.Serializer[Any]):
    minutes = serializers.IntegerField(min_value=1, max_value=24 * 60)
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    worked_at = serializers.DateTimeField(required=False)
