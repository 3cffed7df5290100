"""Writes shared by every app's services."""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from core.models import User

M = TypeVar("M", bound=models.Model)


def model_update(
    *, instance: M, fields: Iterable[str], data: Mapping[str, Any]
) -> tuple[M, list[str]]:
    """Copy the given fields from `data` onto `instance`, validate, and save what changed.

    Returns the instance and the names of the fields that changed. Fields absent from
    `data` are left alone. An `updated_at` field, when the model has one, is bumped. Only
    what changed is validated, with every constraint that involves it (and the fields those
    constraints name): the rest was valid when it was saved, and checking it again would
    cost a query per foreign key and per check constraint.
    """
    changed = []
    for field in fields:
        if field in data and getattr(instance, field) != data[field]:
            setattr(instance, field, data[field])
            changed.append(field)
    if not changed:
        return instance, []
    instance.full_clean(exclude=_unaffected(instance, changed))
    update_fields = list(changed)
    if any(f.name == "updated_at" for f in instance._meta.get_fields()):
        instance.updated_at = timezone.now()  # type: ignore[attr-defined]
        update_fields.append("updated_at")
    instance.save(update_fields=update_fields)
    return instance, changed


def _unaffected(instance: models.Model, changed: list[str]) -> set[str]:
    """The fields that neither changed nor share a constraint with a field that did."""
    affected = set(changed)
    for _, constraints in instance.get_constraints():
        for constraint in constraints:
            names = set(getattr(constraint, "fields", ()) or ())
            condition = getattr(constraint, "condition", None)
            if condition is not None:
                names |= set(condition.referenced_base_fields)
            if names.intersection(changed):
                affected |= names
    return {f.name for f in instance._meta.concrete_fields} - affected


def user_profile_update(*, user: User, first_name: str, last_name: str, time_zone: str) -> User:
    """A person's own name and time zone (every page shows times in it)."""
    if time_zone not in zoneinfo.available_timezones():
        raise ValidationError(
            {"time_zone": ValidationError("Choose an IANA time zone.", code="invalid_time_zone")}
        )
    user, _ = model_update(
        instance=user,
        fields=("first_name", "last_name", "time_zone"),
        data={
            "first_name": first_name.strip(),
            "last_name": last_name.strip(),
            "time_zone": time_zone,
        },
    )
    return user
