"""On-call schedules: layers of rotations, overrides on top, and handoff notes."""

from __future__ import annotations

from django.db import models
from simple_history.models import HistoricalRecords

from communities.models import validate_time_zone


class Schedule(models.Model):
    """Who is on call, when: ordered layers of rotations with overrides on top."""

    name = models.CharField(max_length=100, unique=True)
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    description = models.TextField(blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name
