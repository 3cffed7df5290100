"""Escalation policies: creating them with their steps, checking them, and which applies."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from communities.models import Community
from core.models import User
from incidents.paging.errors import PolicyInvalid
from incidents.paging.models import (
    MAX_REPEATS,
    NOTIFY_KINDS,
    EscalationPolicy,
    EscalationStep,
    PolicyRoute,
    StepKind,
)
from routing.models import Team


def steps_check(steps: Sequence[EscalationStep]) -> None:
    """The rules that span steps (each step's own are its clean() and check constraints):
    a policy notifies someone, and a repeat goes back to a step that exists, before it."""
    if not any(step.kind in NOTIFY_KINDS for step in steps):
        error = PolicyInvalid("A policy needs at least one step that notifies someone.")
        error.code = "no_notify_step"
        raise error
    positions = [step.position for step in steps]
    if len(set(positions)) != len(positions):
        error = PolicyInvalid("Two steps have the same position.", field="steps")
        error.code = "duplicate_position"
        raise error
    for step in steps:
        if step.kind != StepKind.REPEAT:
            continue
        if step.repeat_times is None or not 1 <= step.repeat_times <= MAX_REPEATS:
            error = PolicyInvalid(
                f"Step {step.position}: repeat 1 to {MAX_REPEATS} times.", field="repeat_times"
            )
            error.code = "repeat_times_out_of_range"
            raise error
        if step.repeat_from is None or step.repeat_from >= step.position:
            error = PolicyInvalid(
                f"Step {step.position}: a repeat goes back to a step before itself.",
                field="repeat_from",
            )
            error.code = "repeat_goes_forward"
            raise error
        if step.repeat_from not in positions:
            error = PolicyInvalid(
                f"Step {step.position}: there is no step {step.repeat_from} to repeat from.",
                field="repeat_from",
            )
            error.code = "repeat_from_missing"
            raise error


def policy_check(policy: EscalationPolicy) -> None:
    steps_check(list(policy.steps.all()))


def _validate(instance: Any, *, exclude: Iterable[str] = ()) -> None:
    try:
        instance.full_clean(exclude=list(exclude))
    except ValidationError as exc:
        field, errors = next(iter(exc.error_dict.items()))
        first = errors[0]
        error = PolicyInvalid(" ".join(first.messages), field=None if field == "__all__" else field)
        error.code = first.code or "invalid"
        raise error from exc


@transaction.atomic
def policy_create(
    *,
    name: str,
    steps: Sequence[dict[str, Any]],
    description: str = "",
    fallback_users: Iterable[User] = (),
    fallback_team: Team | None = None,
    reminder_minutes: int | None = None,
    reminder_confirm_minutes: int = 15,
) -> EscalationPolicy:
    """A policy and its steps, all checked before anything is saved. Each step is a dict of
    EscalationStep fields (`position` defaults to its place in the list, from 1), with
    `users` a list of people for notify_users."""
    policy = EscalationPolicy(
        name=name,
        description=description,
        fallback_team=fallback_team,
        reminder_minutes=reminder_minutes,
        reminder_confirm_minutes=reminder_confirm_minutes,
    )
    _validate(policy)
    built: list[tuple[EscalationStep, list[User]]] = []
    for number, data in enumerate(steps, start=1):
        fields = dict(data)
        users = list(fields.pop("users", []))
        fields.setdefault("position", number)
        step = EscalationStep(policy=policy, **fields)
        _validate(step, exclude=["policy"])
        if step.kind == StepKind.NOTIFY_USERS and not users:
            error = PolicyInvalid(
                f"Step {step.position}: name the people to notify.", field="users"
            )
            error.code = "required"
            raise error
        built.append((step, users))
    steps_check([step for step, _ in built])
    policy.save()
    policy.fallback_users.set(list(fallback_users))
    for step, users in built:
        step.policy = policy
        step.save()
        if users:
            step.users.set(users)
    return policy


@transaction.atomic
def policy_steps_replace(*, policy: EscalationPolicy, steps: Sequence[dict[str, Any]]) -> None:
    """Replace a policy's steps (checked first). Open pages keep their pointer: a page whose
    step index is past the new last step goes on to the fallback."""
    locked = EscalationPolicy.objects.select_for_update().get(pk=policy.pk)
    built: list[tuple[EscalationStep, list[User]]] = []
    for number, data in enumerate(steps, start=1):
        fields = dict(data)
        users = list(fields.pop("users", []))
        fields.setdefault("position", number)
        step = EscalationStep(policy=locked, **fields)
        _validate(step, exclude=["policy"])
        built.append((step, users))
    steps_check([step for step, _ in built])
    locked.steps.all().delete()
    for step, users in built:
        step.save()
        if users:
            step.users.set(users)
    locked.updated_at = timezone.now()
    locked.save(update_fields=["updated_at"])


def policy_for(
    *, cause: str, severity: str, community: Community | int | None = None
) -> EscalationPolicy | None:
    """The policy of the first active route (in position order) whose cause matches and
    whose severity and community are empty or match."""
    community_id = community.pk if isinstance(community, Community) else community
    route = (
        PolicyRoute.objects.filter(active=True, cause=cause)
        .filter(Q(severity="") | Q(severity=severity))
        .filter(Q(community__isnull=True) | Q(community_id=community_id))
        .select_related("policy")
        .order_by("position", "id")
        .first()
    )
    return route.policy if route is not None else None
