"""Every write the desk makes to its own data: agents' saved queue filters.

Tickets are changed only through tickets.services (and time through communities.services).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from core.errors import ApplicationError
from web.models import SavedFilter

if TYPE_CHECKING:
    from core.models import User

# The queue filters a saved filter may hold (web.desk.forms.QueueFilterForm's fields).
FILTER_PARAMS = ("status", "severity", "tier", "community", "assignee", "tag", "q")
_LIST_PARAMS = ("status", "severity", "tier")


class SavedFilterNameTaken(ApplicationError):
    code = "saved_filter_name_taken"


def clean_filter_params(params: dict[str, Any]) -> dict[str, Any]:
    """Only the known filters, without empty values: lists of strings for the multiple
    choices, a string for the others."""
    unknown = set(params) - set(FILTER_PARAMS)
    if unknown:
        raise ValidationError(
            {"params": ValidationError(f"Unknown filters: {', '.join(sorted(unknown))}.")}
        )
    clean: dict[str, Any] = {}
    for name in FILTER_PARAMS:
        value = params.get(name)
        if name in _LIST_PARAMS:
            values = [str(v) for v in (value or []) if str(v).strip()]
            if values:
                clean[name] = values
        elif value is not None and str(value).strip():
            clean[name] = str(value).strip()
    return clean


def saved_filter_check(
    *, owner: User, name: str, params: dict[str, Any], saved_filter: SavedFilter | None = None
) -> dict[str, Any]:
    """Raise unless `owner` may keep these filters under `name`; return the clean params.
    Forms call it to show a refusal beside the field; the writes below check again."""
    params = clean_filter_params(params)
    if not params:
        raise ValidationError({"params": ValidationError("Choose at least one filter to save.")})
    taken = SavedFilter.objects.filter(owner_id=owner.pk, name=name.strip())
    if saved_filter is not None:
        taken = taken.exclude(pk=saved_filter.pk)
    if taken.exists():
        raise SavedFilterNameTaken(
            f"{owner} already has a filter called “{name.strip()}”.", field="name"
        )
    return params


def saved_filter_create(
    *, owner: User, name: str, params: dict[str, Any], shared: bool = False
) -> SavedFilter:
    params = clean_filter_params(params)
    if not params:
        raise ValidationError({"params": ValidationError("Choose at least one filter to save.")})
    saved = SavedFilter(owner=owner, name=name.strip(), params=params, shared=shared)
    saved.full_clean(validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            saved.save()
    except IntegrityError as exc:
        raise SavedFilterNameTaken(
            f"You already have a filter called “{saved.name}”.", field="name"
        ) from exc
    return saved


def saved_filter_update(*, saved_filter: SavedFilter, data: dict[str, Any]) -> SavedFilter:
    fields = {"name", "params", "shared"}
    unknown = set(data) - fields
    if unknown:
        raise ValidationError(
            {f: ValidationError("This field cannot be changed.") for f in unknown}
        )
    if "name" in data:
        saved_filter.name = str(data["name"]).strip()
    if "params" in data:
        saved_filter.params = clean_filter_params(data["params"])
        if not saved_filter.params:
            raise ValidationError(
                {"params": ValidationError("Choose at least one filter to save.")}
            )
    if "shared" in data:
        saved_filter.shared = bool(data["shared"])
    saved_filter.full_clean(validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            saved_filter.save(update_fields=sorted(fields & set(data)))
    except IntegrityError as exc:
        raise SavedFilterNameTaken(
            f"{saved_filter.owner} already has a filter called “{saved_filter.name}”.",
            field="name",
        ) from exc
    return saved_filter


def saved_filter_delete(*, saved_filter: SavedFilter) -> None:
    """Delete a saved filter; the caller has checked that it is the actor's own
    (web.desk.selectors.saved_filters_owned)."""
    saved_filter.delete()
