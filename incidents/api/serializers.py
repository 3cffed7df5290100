"""Incident API serializers: parse and render, no rules. Readers who are not staff get the
public view: public timeline entries only, and only their own communities."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from core.api.fields import InstantField
from incidents.models import (
    ActionItem,
    ActionStatus,
    Incident,
    Postmortem,
    StatusUpdate,
    TimelineEntry,
)
from incidents.states import Level, Status


@extend_schema_serializer(component_name="IncidentPerson")
class PersonSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField(source="display_name")


class TimelineEntrySerializer(serializers.ModelSerializer[TimelineEntry]):
    actor = serializers.SerializerMethodField()

    class Meta:
        model = TimelineEntry
        fields = ("id", "kind", "at", "text", "public", "actor")

    def get_actor(self, entry: TimelineEntry) -> str | None:
        return entry.actor.display_name if entry.actor else None


class StatusUpdateSerializer(serializers.ModelSerializer[StatusUpdate]):
    body = serializers.SerializerMethodField()

    class Meta:
        model = StatusUpdate
        fields = ("id", "status", "body", "created_at", "tickets_total", "fanout_done_at")

    def get_body(self, update: StatusUpdate) -> str:
        from incidents.messages import for_reader

        return for_reader(update.body, self.context.get("community_name"))


class IncidentSerializer(serializers.ModelSerializer[Incident]):
    reference = serializers.CharField(read_only=True)
    priority = serializers.CharField(read_only=True)
    commander = PersonSerializer(read_only=True)
    overdue = serializers.SerializerMethodField()

    class Meta:
        model = Incident
        fields: tuple[str, ...] = (
            "id", "reference", "title", "severity", "priority", "status", "maintenance",
            "declared_at", "impact_started_at", "detected_at", "mitigated_at", "resolved_at",
            "closed_at", "commander", "next_update_due_at", "overdue",
        )  # fmt: skip

    def get_overdue(self, incident: Incident) -> bool:
        from incidents.selectors import overdue

        return overdue(incident)


class IncidentDetailSerializer(IncidentSerializer):
    technical_lead = PersonSerializer(read_only=True, allow_null=True)
    communications_lead = PersonSerializer(read_only=True, allow_null=True)
    communities = serializers.SerializerMethodField()
    timeline = serializers.SerializerMethodField()
    updates = serializers.SerializerMethodField()
    tickets = serializers.SerializerMethodField()

    class Meta(IncidentSerializer.Meta):
        fields = (
            *IncidentSerializer.Meta.fields, "summary", "technical_lead", "communications_lead",
            "communities", "tickets", "timeline", "updates", "page",
        )  # fmt: skip

    def get_communities(self, incident: Incident) -> list[str]:
        return [c.slug for c in self.context["communities"]]

    def get_timeline(self, incident: Incident) -> list[dict[str, Any]]:
        return TimelineEntrySerializer(self.context["timeline"], many=True).data  # type: ignore[return-value]

    def get_updates(self, incident: Incident) -> list[dict[str, Any]]:
        return StatusUpdateSerializer(self.context["updates"], many=True, context=self.context).data  # type: ignore[return-value]

    def get_tickets(self, incident: Incident) -> list[str]:
        return list(self.context.get("tickets", []))


class PublicIncidentDetailSerializer(IncidentDetailSerializer):
    """What a community's people read: no summary, no roles beyond the commander's name."""

    class Meta(IncidentSerializer.Meta):
        fields = (
            "id", "reference", "title", "severity", "priority", "status", "maintenance",
            "declared_at", "impact_started_at", "resolved_at", "communities", "timeline",
            "updates",
        )  # fmt: skip


class DeclareSerializer(serializers.Serializer[Any]):
    title = serializers.CharField(max_length=200)
    severity = serializers.CharField(help_text="SEV1 (P1) to SEV4 (P4).")
    summary = serializers.CharField(required=False, allow_blank=True, default="")
    communities = serializers.ListField(
        child=serializers.SlugField(), required=False, default=list, help_text="Community slugs."
    )
    tickets = serializers.ListField(
        child=serializers.CharField(), required=False, default=list,
        help_text="Ticket references, e.g. SD-12.",
    )  # fmt: skip
    commander = serializers.IntegerField(required=False, help_text="An agent's id (default: you).")
    impact_started_at = InstantField(required=False)
    detected_at = InstantField(required=False)
    maintenance = serializers.BooleanField(required=False, default=False)
    page = serializers.IntegerField(required=False, help_text="Declared from this page.")


class ChangeSerializer(serializers.Serializer[Any]):
    title = serializers.CharField(max_length=200, required=False)
    summary = serializers.CharField(required=False, allow_blank=True)
    severity = serializers.CharField(required=False)
    maintenance = serializers.BooleanField(required=False)
    impact_started_at = InstantField(required=False)
    detected_at = InstantField(required=False)
    mitigated_at = InstantField(required=False, allow_null=True)
    resolved_at = InstantField(required=False, allow_null=True)


@extend_schema_serializer(component_name="IncidentTransition")
class TransitionSerializer(serializers.Serializer[Any]):
    status = serializers.ChoiceField(choices=Status.choices)
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class UpdatePostSerializer(serializers.Serializer[Any]):
    body = serializers.CharField(allow_blank=True, trim_whitespace=False)
    status = serializers.ChoiceField(choices=Status.choices, required=False)


class NoteSerializer(serializers.Serializer[Any]):
    text = serializers.CharField(allow_blank=True)
    at = InstantField(required=False)
    public = serializers.BooleanField(required=False, default=False)


class RoleSerializer(serializers.Serializer[Any]):
    role = serializers.ChoiceField(choices=["commander", "technical_lead", "communications_lead"])
    user = serializers.IntegerField(allow_null=True)


class LinkSerializer(serializers.Serializer[Any]):
    ticket = serializers.CharField(required=False)
    community = serializers.SlugField(required=False)


class PostmortemSerializer(serializers.ModelSerializer[Postmortem]):
    class Meta:
        model = Postmortem
        fields = (
            "summary", "impact", "timeline", "root_cause", "contributing_factors", "went_well",
            "went_badly", "published_at", "updated_at",
        )  # fmt: skip
        read_only_fields = ("published_at", "updated_at")
        extra_kwargs: dict[str, Any] = {  # noqa: RUF012
            name: {"required": False, "allow_blank": True}
            for name in ("summary", "impact", "timeline", "root_cause", "contributing_factors",
                         "went_well", "went_badly")
        }  # fmt: skip


class ActionItemSerializer(serializers.ModelSerializer[ActionItem]):
    owner = PersonSerializer(read_only=True)
    ticket = serializers.SerializerMethodField()

    class Meta:
        model = ActionItem
        fields = ("id", "title", "owner", "due_date", "status", "deferred_reason", "ticket")

    def get_ticket(self, item: ActionItem) -> str | None:
        return item.ticket.reference if item.ticket else None


class ActionItemAddSerializer(serializers.Serializer[Any]):
    title = serializers.CharField(allow_blank=True)
    owner = serializers.IntegerField(required=False, allow_null=True)
    due_date = serializers.DateField(required=False, allow_null=True)
    ticket = serializers.CharField(required=False, allow_blank=True)


class ActionItemChangeSerializer(serializers.Serializer[Any]):
    status = serializers.ChoiceField(choices=ActionStatus.choices)
    deferred_reason = serializers.CharField(required=False, allow_blank=True, default="")


class UptimeQuerySerializer(serializers.Serializer[Any]):
    month = serializers.CharField(help_text="YYYY-MM (default: this month).", required=False)


class UptimeSerializer(serializers.Serializer[Any]):
    community = serializers.CharField()
    month = serializers.CharField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    minutes_in_month = serializers.IntegerField()
    downtime_minutes = serializers.FloatField()
    planned_maintenance_excluded_minutes = serializers.FloatField()
    uptime_percent = serializers.DecimalField(max_digits=6, decimal_places=3)
    guarantee_percent = serializers.DecimalField(max_digits=6, decimal_places=3)
    met = serializers.BooleanField()
    credit_percent = serializers.IntegerField(help_text="Percent of the monthly fee owed.")
    windows = serializers.ListField(child=serializers.ListField(child=serializers.DateTimeField()))


LEVELS = Level.values
