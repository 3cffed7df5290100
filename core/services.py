"""Writes shared by every app's services."""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, router, transaction
from django.utils import timezone

from core.models import User

M = TypeVar("M", bound=models.Model)


def model_update(
    *, instance: M, fields: Iterable[str], data: Mapping[str, Any], save: bool = True
) -> tuple[M, list[str]]:
    """Copy the given fields from `data` onto `instance`, validate, and save what changed
    (with `save` False, the caller saves: the changed fields and `updated_at`).

    Returns the instance and the names of the fields that changed. Fields absent from
    `data` are left alone. An `updated_at` field, when the model has one, is bumped. Only
    what changed is validated, with every constraint that involves it (and the fields those
    constraints name): the rest was valid when it was saved, and checking it again would
    cost a query per foreign key and per check constraint. A check constraint that only
    repeats a field's choices (`tier IN (...)`) is not asked of the database: the field's
    own validation has just checked the same thing.
    """
    changed = []
    for field in fields:
        if field in data and getattr(instance, field) != data[field]:
            setattr(instance, field, data[field])
            changed.append(field)
    if not changed:
        return instance, []
    exclude = _unaffected(instance, changed)
    instance.full_clean(exclude=exclude, validate_constraints=False)
    _validate_constraints(instance, exclude)
    update_fields = list(changed)
    if any(f.name == "updated_at" for f in instance._meta.get_fields()):
        instance.updated_at = timezone.now()  # type: ignore[attr-defined]
        update_fields.append("updated_at")
    if save:
        instance.save(update_fields=update_fields)
    return instance, changed


def create_once(model: type[M], **fields: Any) -> M | None:
    """Insert a row whose unique constraint says whether it was made before (a notice, a
    mailing, a crossing): the new row, or None when the row exists. The insert runs in a
    savepoint, so the caller's transaction goes on either way."""
    try:
        with transaction.atomic():
            return model._default_manager.create(**fields)
    except IntegrityError:
        return None


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


def _validate_constraints(instance: models.Model, exclude: set[str]) -> None:
    """Model.validate_constraints, less the constraints that repeat a field's choices."""
    using = router.db_for_write(type(instance), instance=instance)
    errors: dict[str, Any] = {}
    for model, constraints in instance.get_constraints():
        for constraint in constraints:
            if _repeats_choices(model, constraint):
                continue
            try:
                constraint.validate(model, instance, exclude=exclude, using=using)
            except ValidationError as error:
                fields: tuple[str, ...] = tuple(getattr(constraint, "fields", ()))
                if getattr(error, "code", None) == "unique" and len(fields) == 1:
                    errors.setdefault(fields[0], []).append(error)
                else:
                    errors = error.update_error_dict(errors)
    if errors:
        raise ValidationError(errors)


def _repeats_choices(model: type[models.Model], constraint: models.BaseConstraint) -> bool:
    """True for CheckConstraint(condition=Q(field__in=values)) where `values` admits every
    choice of a field that has choices (and blank ones only if the field may be blank)."""
    condition = getattr(constraint, "condition", None)
    if not isinstance(constraint, models.CheckConstraint) or not isinstance(condition, models.Q):
        return False
    if condition.negated or len(condition.children) != 1:
        return False
    child = condition.children[0]
    if not isinstance(child, tuple) or not child[0].endswith("__in"):
        return False
    name, values = child[0].removesuffix("__in"), child[1]
    try:
        field = model._meta.get_field(name)
    except Exception:  # noqa: BLE001 - a lookup through a relation is not a plain field
        return False
    choices = getattr(field, "flatchoices", None)
    if not choices or not isinstance(values, list | tuple | set | frozenset):
        return False
    allowed = {str(v) for v in values}
    admitted = {str(value) for value, _label in choices}
    if getattr(field, "blank", False):
        admitted.add("")
    return admitted <= allowed


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
