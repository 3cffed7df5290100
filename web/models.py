"""What the desk remembers for its agents."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.http import urlencode


class SavedFilter(models.Model):
    """A named set of queue filters (status, severity, tier, community, assignee, tag, text),
    kept for its owner or shared with the team."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_filters"
    )
    name = models.CharField(max_length=80)
    params = models.JSONField(default=dict)
    shared = models.BooleanField(default=False, help_text="Every agent sees it in their rail.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("name",)
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["owner", "name"], name="saved_filter_name_once"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def query_string(self) -> str:
        """The queue's query string for these filters (`status=new&status=open&tag=gpu`)."""
        return urlencode(self.params, doseq=True)
