"""Shapes of the SLA API. Input serializers only parse; output serializers only render."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.fields import InstantField
from slas.models import ClockEvent, Metric
from slas.selectors import Clock, MetricCompliance, TicketClocks, current_clocks
from tickets.api.extensions import PayloadExtension
from tickets.models import Severity, Ticket


class ClockEventSerializer(serializers.Serializer[ClockEvent]):
    kind = serializers.CharField()
    at = serializers.DateTimeField()
    details = serializers.JSONField(source="data")


class ClockSerializer(serializers.Serializer[Clock]):
    metric = serializers.CharField()
    state = serializers.CharField(source="target.state")
    policy = serializers.CharField(source="target.policy.name", default=None)
    target_minutes = serializers.IntegerField(source="target.target_minutes")
    business_time = serializers.BooleanField(
        source="target.business", help_text="Counted in the calendar's business time."
    )
    started_at = serializers.DateTimeField(source="target.started_at")
    due_at = serializers.DateTimeField(source="target.due_at")
    warn_at = serializers.DateTimeField(source="target.warn_at")
    paused_since = serializers.DateTimeField(source="target.paused_since")
    paused_seconds = serializers.IntegerField(source="target.paused_seconds")
    warned_at = serializers.DateTimeField(source="target.warned_at")
    breached_at = serializers.DateTimeField(source="target.breached_at")
    met_at = serializers.DateTimeField(source="target.met_at")
    cancelled_at = serializers.DateTimeField(source="target.cancelled_at")
    in_time = serializers.BooleanField(allow_null=True)
    seconds_left = serializers.SerializerMethodField(
        help_text="Counted time left (business or wall-clock, as the target counts); "
        "negative when overdue; null once met or cancelled."
    )
    text = serializers.CharField(source="time_left_text")

    @extend_schema_field(OpenApiTypes.INT)
    def get_seconds_left(self, clock: Clock) -> int | None:
        return None if clock.time_left is None else int(clock.time_left.total_seconds())


class ClockWithHistorySerializer(ClockSerializer):
    history = ClockEventSerializer(many=True)


class PolicyRefSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(source="pk")
    name = serializers.CharField()


class TicketSLASerializer(serializers.Serializer[TicketClocks]):
    """The `sla` block of a ticket: the policy and why, and its three clocks."""

    policy = PolicyRefSerializer(allow_null=True)
    reason = serializers.CharField()
    first_response = serializers.SerializerMethodField()
    next_update = serializers.SerializerMethodField()
    resolution = serializers.SerializerMethodField()
    clocks = serializers.SerializerMethodField(
        help_text="Every clock, oldest first (agents also see each clock's history)."
    )

    def _current(self, block: TicketClocks, metric: str) -> dict[str, Any] | None:
        clock = block.current[metric]
        return None if clock is None else dict(ClockSerializer(clock).data)

    @extend_schema_field(ClockSerializer(allow_null=True))
    def get_first_response(self, block: TicketClocks) -> dict[str, Any] | None:
        return self._current(block, Metric.FIRST_RESPONSE)

    @extend_schema_field(ClockSerializer(allow_null=True))
    def get_next_update(self, block: TicketClocks) -> dict[str, Any] | None:
        return self._current(block, Metric.NEXT_UPDATE)

    @extend_schema_field(ClockSerializer(allow_null=True))
    def get_resolution(self, block: TicketClocks) -> dict[str, Any] | None:
        return self._current(block, Metric.RESOLUTION)

    @extend_schema_field(ClockWithHistorySerializer(many=True))
    def get_clocks(self, block: TicketClocks) -> list[Any]:
        shape = ClockWithHistorySerializer if self.context.get("history") else ClockSerializer
        clocks: Any = block.clocks
        return list(shape(clocks, many=True).data)


class ClockSummarySerializer(serializers.Serializer[Clock]):
    """One metric's latest clock, as the ticket payload shows it."""

    state = serializers.CharField(source="target.state")
    due_at = serializers.DateTimeField(source="target.due_at")
    business_time = serializers.BooleanField(
        source="target.business",
        help_text="Counted in the calendar's business time (otherwise around the clock).",
    )
    seconds_left = serializers.SerializerMethodField(
        help_text="Counted time left (business or wall-clock, as the target counts); "
        "negative when overdue; null once met or cancelled."
    )

    @extend_schema_field(OpenApiTypes.INT)
    def get_seconds_left(self, clock: Clock) -> int | None:
        return None if clock.time_left is None else int(clock.time_left.total_seconds())


class TicketSLABlockSerializer(serializers.Serializer[Mapping[str, Clock]]):
    """The `sla` block of a ticket in the tickets API: the latest clock of each metric, null
    for a metric that has had none. The whole story is at /api/v1/tickets/{reference}/sla/."""

    first_response = ClockSummarySerializer(allow_null=True)
    next_update = ClockSummarySerializer(allow_null=True)
    resolution = ClockSummarySerializer(allow_null=True)


def _ticket_sla_blocks(tickets: Sequence[Ticket]) -> dict[int, Mapping[str, Clock]]:
    clocks = current_clocks([ticket.pk for ticket in tickets])
    return {ticket.pk: clocks.get(ticket.pk, {}) for ticket in tickets}


ticket_sla_block = PayloadExtension(
    name="sla",
    shape=TicketSLABlockSerializer,
    prefetch=_ticket_sla_blocks,
    # A ticket's clocks are armed by a worker after it is opened.
    opened=dict,
)


class ComplianceQuerySerializer(serializers.Serializer[Any]):
    from_ = InstantField(required=False, help_text="Clocks started from (default: 30 days ago).")
    to = InstantField(required=False, help_text="...until, exclusive (default: now).")
    community = serializers.SlugField(required=False)
    plan = serializers.SlugField(required=False)
    severity = serializers.ChoiceField(choices=Severity.choices, required=False)

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = attrs.get("from"), attrs.get("to")
        if start is not None and end is not None and end <= start:
            raise serializers.ValidationError({"to": "`to` comes after `from`."}, code="invalid")
        return attrs


class MetricComplianceSerializer(serializers.Serializer[MetricCompliance]):
    metric = serializers.CharField()
    decided = serializers.IntegerField(help_text="Clocks met or breached.")
    met_in_time = serializers.IntegerField()
    late = serializers.IntegerField()
    still_running = serializers.IntegerField()
    share_met_in_time = serializers.FloatField(allow_null=True)
    median_used_seconds = serializers.FloatField(
        allow_null=True, help_text="Counted time to meet the target, as the target counts it."
    )
    p90_used_seconds = serializers.FloatField(allow_null=True)
    median_elapsed_seconds = serializers.FloatField(
        allow_null=True, help_text="Wall-clock time from start to met."
    )
    p90_elapsed_seconds = serializers.FloatField(allow_null=True)


class ComplianceSerializer(serializers.Serializer[Any]):
    from_ = serializers.DateTimeField()
    to = serializers.DateTimeField()
    community = serializers.CharField(allow_null=True)
    plan = serializers.CharField(allow_null=True)
    severity = serializers.CharField(allow_null=True)
    metrics = MetricComplianceSerializer(many=True)

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields
