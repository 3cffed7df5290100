"""Writes shared by every app's services."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from django.db import models
from django.utils import timezone

M = TypeVar("M", bound=models.Model)


def model_update(
    *, instance: M, fields: Iterable[str], data: Mapping[str, Any]
) -> tuple[M, list[str]]:
    """Copy the given fields from `data` onto `instance`, validate, and save what changed.

    Returns the instance and the names of the fields that changed. Fields absent from
    `data` are left alone. An `updated_at` field, when the model has one, is bumped.
    """
    changed = []
    for field in fields:
        if field in data and getattr(instance, field) != data[field]:
            setattr(instance, field, data[field])
            changed.append(field)
    if not changed:
        return instance, []
    instance.full_clean()
    update_fields = list(changed)
    if any(f.name == "updated_at" for f in instance._meta.get_fields()):
        instance.updated_at = timezone.now()  # type: ignore[attr-defined]
        update_fields.append("updated_at")
    instance.save(update_fields=update_fields)
    return instance, changed
