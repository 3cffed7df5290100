"""Serializer fields several apps' APIs share."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

from django.utils.dateparse import parse_date, parse_datetime
from rest_framework import serializers


class InstantField(serializers.DateTimeField):
    """An ISO date (midnight UTC) or date-time."""

    def to_internal_value(self, value: Any) -> datetime:
        try:
            day = parse_date(value) if isinstance(value, str) else None
            moment = parse_datetime(value) if isinstance(value, str) and day is None else None
        except ValueError:  # well formed, but no such date (2024-13-45)
            day = moment = None
        if day is not None:
            return datetime.combine(day, time.min, tzinfo=UTC)
        if moment is None:
            self.fail("invalid", format="YYYY-MM-DD or YYYY-MM-DDThh:mm[:ss][+HH:MM]")
        return super().to_internal_value(value)
