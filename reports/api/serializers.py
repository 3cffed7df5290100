from __future__ import annotations

from rest_framework import serializers

from reports.filters import PERIODS
from tickets.models import Channel, Severity, Tier


class ReportQuerySerializer(serializers.Serializer):  # type: ignore[type-arg]
    """The report filters, as the desk and the portal take them."""

    period = serializers.ChoiceField(
        choices=list(PERIODS), required=False, help_text="Default 30d."
    )
    start = serializers.DateField(required=False, help_text="With `end`: a range of days instead.")
    end = serializers.DateField(required=False)
    community = serializers.SlugField(required=False, help_text="A community slug in your scope.")
    plan = serializers.IntegerField(required=False, help_text="Service plan id.")
    tier = serializers.ChoiceField(choices=Tier.choices, required=False)
    severity = serializers.ChoiceField(choices=Severity.choices, required=False)
    team = serializers.IntegerField(required=False, help_text="Team id (tickets of its members).")
    agent = serializers.IntegerField(required=False, help_text="Assignee's user id.")
    channel = serializers.ChoiceField(choices=Channel.choices, required=False)


class FigureSerializer(serializers.Serializer):  # type: ignore[type-arg]
    key = serializers.CharField()
    title = serializers.CharField()
    value = serializers.FloatField(allow_null=True)
    unit = serializers.CharField()
    count = serializers.IntegerField(help_text="How many things the figure is computed over.")
    previous = serializers.FloatField(
        allow_null=True, help_text="The same figure, previous period."
    )
    change = serializers.FloatField(allow_null=True)
    target = serializers.FloatField(allow_null=True)
    state = serializers.CharField(help_text="met, at_risk, missed, no_data, or empty (no target).")


class PeriodSerializer(serializers.Serializer):  # type: ignore[type-arg]
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    title = serializers.CharField(help_text="The period in words, e.g. Last 30 days.")


class MetricsSerializer(serializers.Serializer):  # type: ignore[type-arg]
    period = PeriodSerializer()
    communities = serializers.ListField(child=serializers.SlugField())
    figures = FigureSerializer(many=True)


class TableSerializer(serializers.Serializer):  # type: ignore[type-arg]
    key = serializers.CharField()
    title = serializers.CharField()
    columns = serializers.ListField(child=serializers.CharField())
    rows = serializers.ListField(child=serializers.ListField(child=serializers.CharField()))


class DashboardSerializer(serializers.Serializer):  # type: ignore[type-arg]
    period = PeriodSerializer()
    tables = TableSerializer(many=True)
