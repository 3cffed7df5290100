"""Writes of reports' own configuration (the admin calls these)."""

from __future__ import annotations

from django.db import transaction

from reports.models import Target


def target_save(*, target: Target) -> Target:
    """Create or change a target; its state is measured again by the next check."""
    target.full_clean()
    with transaction.atomic():
        target.save()
    return target
