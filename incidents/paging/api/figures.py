"""GET /api/v1/pages/figures/: mean time to acknowledge and to resolve per period, schedule
and team, and pages per person per week (incidents.paging.figures). Agents only: anyone
else is told there is nothing here (404), like every paging endpoint."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.fields import InstantField
from core.api.permissions import AgentsOnly
from incidents.paging.figures import (
    MAX_BUCKETS,
    PERIODS,
    Bucket,
    Figures,
    PersonWeeks,
    Series,
    bucket_count,
    page_figures,
)

DEFAULT_DAYS = 28


class FiguresQuerySerializer(serializers.Serializer[Any]):
    from_ = InstantField(
        required=False, help_text=f"Pages created from (default: {DEFAULT_DAYS} days before `to`)."
    )
    to = InstantField(required=False, help_text="...until, exclusive (default: now).")
    period = serializers.ChoiceField(
        choices=list(PERIODS), default="week", help_text="Length of each period."
    )
    tz = serializers.CharField(
        required=False,
        default="UTC",
        help_text="The time zone periods start in (IANA name, e.g. Europe/Berlin).",
    )

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields

    def validate_tz(self, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise serializers.ValidationError("Unknown time zone.", code="invalid") from exc
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        end = attrs.get("to") or timezone.now()
        start = attrs.get("from") or end - timedelta(days=DEFAULT_DAYS)
        if end <= start:
            field = "to" if "to" in attrs else "from"
            raise serializers.ValidationError(
                {field: "`to` comes after `from` (default: now)."}, code="invalid"
            )
        if bucket_count(start, end, attrs["period"], ZoneInfo(attrs["tz"])) > MAX_BUCKETS:
            raise serializers.ValidationError(
                {
                    "from": f"At most {MAX_BUCKETS} periods: shorten the range or use longer periods."
                },
                code="too_long",
            )
        attrs["from"], attrs["to"] = start, end
        return attrs


class BucketSerializer(serializers.Serializer[Bucket]):
    start = serializers.DateTimeField(
        help_text="When the period starts: midnight in `tz`, written in UTC."
    )
    pages = serializers.IntegerField()
    acknowledged = serializers.IntegerField(help_text="Pages acknowledged (at any time).")
    resolved = serializers.IntegerField()
    mtta_seconds = serializers.FloatField(
        allow_null=True, help_text="Mean seconds from trigger to first acknowledgement."
    )
    mttr_seconds = serializers.FloatField(
        allow_null=True, help_text="Mean seconds from trigger to resolution."
    )


class SeriesSerializer(serializers.Serializer[Series]):
    kind = serializers.ChoiceField(choices=["all", "schedule", "team"])
    id = serializers.IntegerField(allow_null=True)
    name = serializers.CharField()
    total = BucketSerializer()
    periods = BucketSerializer(many=True, source="buckets")


class PersonWeeksSerializer(serializers.Serializer[PersonWeeks]):
    user_id = serializers.IntegerField()
    name = serializers.CharField()
    pages = serializers.ListField(
        child=serializers.IntegerField(), help_text="Distinct pages per week, as `weeks`."
    )
    notifications = serializers.ListField(
        child=serializers.IntegerField(), help_text="Notifications per week, as `weeks`."
    )
    total_pages = serializers.IntegerField()
    total_notifications = serializers.IntegerField()


class FiguresSerializer(serializers.Serializer[Figures]):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    period = serializers.CharField()
    time_zone = serializers.CharField()
    overall = SeriesSerializer()
    schedules = SeriesSerializer(many=True)
    teams = SeriesSerializer(many=True)
    weeks = serializers.ListField(child=serializers.DateTimeField())
    people = PersonWeeksSerializer(many=True)


class PageFiguresApi(APIView):
    """Mean time to acknowledge and to resolve over the pages created in [from, to), per
    period, overall, per schedule (the `notify_on_call` steps of a page's policy) and per
    team (its `notify_team` steps); and how many pages each person was notified of, week by
    week (alert fatigue). Pages recorded during maintenance are left out."""

    permission_classes = [AgentsOnly]

    @extend_schema(parameters=[FiguresQuerySerializer], responses=FiguresSerializer)
    def get(self, request: Request) -> Response:
        query = FiguresQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        figures = page_figures(
            start=params["from"], end=params["to"], period=params["period"], time_zone=params["tz"]
        )
        return Response(FiguresSerializer(figures).data)
