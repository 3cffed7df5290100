"""Shapes of the paging API. Input serializers only parse (and refuse fields they do not
know); output serializers only render."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from incidents.paging.models import Page, PageEvent
from incidents.paging.services.pages import MAX_SILENCE_MINUTES
from tickets.models import Severity


class StrictSerializer(serializers.Serializer[Any]):
    """Refuses fields it does not declare, instead of ignoring them."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {
                        name: [serializers.ErrorDetail("Unknown field.", code="unknown_field")]
                        for name in unknown
                    }
                )
        return super().to_internal_value(data)


class PagePersonSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(source="pk")
    name = serializers.CharField(source="display_name")


class PagePolicyRefSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(source="pk")
    name = serializers.CharField()


class PageEventSerializer(serializers.ModelSerializer[PageEvent]):
    actor = PagePersonSerializer(allow_null=True)

    class Meta:
        model = PageEvent
        fields = ("id", "kind", "actor", "via", "detail", "at")
        read_only_fields = fields


class PageSerializer(serializers.ModelSerializer[Page]):
    policy = PagePolicyRefSerializer(allow_null=True)
    ticket = serializers.SerializerMethodField()
    community = serializers.SlugRelatedField(slug_field="slug", read_only=True)  # type: ignore[var-annotated]
    acknowledged_by = PagePersonSerializer(allow_null=True)
    resolved_by = PagePersonSerializer(allow_null=True)

    class Meta:
        model = Page
        fields: tuple[str, ...] = (
            "id", "state", "cause", "title", "details", "severity", "service", "dedup_key",
            "ticket", "community", "policy", "step_index", "repeat", "next_escalation_at",
            "escalation_done", "acknowledged_by", "acknowledged_at", "resolved_by",
            "resolved_at", "silenced_until", "remind_at", "trigger_count",
            "last_triggered_at", "in_maintenance", "created_at",
        )  # fmt: skip
        read_only_fields = fields

    def get_ticket(self, page: Page) -> str | None:
        return page.ticket.reference if page.ticket is not None else None


class PageDetailSerializer(PageSerializer):
    timeline = PageEventSerializer(many=True, source="events")

    class Meta(PageSerializer.Meta):
        fields = (*PageSerializer.Meta.fields, "timeline")
        read_only_fields = fields


class PageTriggerSerializer(StrictSerializer):
    title = serializers.CharField(max_length=300)
    details = serializers.CharField(required=False, allow_blank=True, default="", max_length=20000)
    severity = serializers.ChoiceField(choices=Severity.choices, default=Severity.CRITICAL)
    dedup_key = serializers.CharField(
        max_length=200,
        required=False,
        help_text="Triggers with the same key attach to the open page instead of paging "
        "again. Empty: a new page each time.",
    )
    service = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    community = serializers.SlugField(required=False, help_text="The community affected.")


class PageActionSerializer(StrictSerializer):
    """No fields."""


class PageSilenceSerializer(StrictSerializer):
    minutes = serializers.IntegerField(min_value=1, max_value=MAX_SILENCE_MINUTES)


class PageListQuerySerializer(serializers.Serializer[Any]):
    state = serializers.ChoiceField(
        choices=["open", "triggered", "acknowledged", "resolved"], required=False
    )


def _alert_status(value: str) -> None:
    if value not in ("firing", "resolved"):
        raise serializers.ValidationError("Either `firing` or `resolved`.", code="invalid_choice")


class AlertSerializer(serializers.Serializer[Any]):
    status = serializers.CharField(validators=[_alert_status], help_text="firing | resolved")
    labels = serializers.DictField(child=serializers.CharField(allow_blank=True))
    annotations = serializers.DictField(
        child=serializers.CharField(allow_blank=True), required=False, default=dict
    )
    startsAt = serializers.CharField(required=False, allow_blank=True)  # noqa: N815
    endsAt = serializers.CharField(required=False, allow_blank=True)  # noqa: N815
    generatorURL = serializers.CharField(required=False, allow_blank=True)  # noqa: N815
    fingerprint = serializers.CharField(required=False, allow_blank=True, max_length=200)


class AlertmanagerSerializer(serializers.Serializer[Any]):
    """Alertmanager's webhook body (version 4); fields not listed are ignored."""

    version = serializers.CharField(required=False)
    groupKey = serializers.CharField(required=False, allow_blank=True)  # noqa: N815
    status = serializers.CharField(validators=[_alert_status], help_text="firing | resolved")
    receiver = serializers.CharField(required=False, allow_blank=True)
    externalURL = serializers.CharField(required=False, allow_blank=True)  # noqa: N815
    alerts = AlertSerializer(many=True, allow_empty=False)


class AlertmanagerResultSerializer(serializers.Serializer[Any]):
    triggered = serializers.ListField(child=serializers.IntegerField())
    attached = serializers.ListField(child=serializers.IntegerField())
    resolved = serializers.ListField(child=serializers.IntegerField())
