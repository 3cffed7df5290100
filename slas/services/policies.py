"""Every write to SLA policies. Bad input (a zero or negative target, a warning threshold
outside (0, 100), two warning rules, no target at all) is a ValidationError with field
errors, from the model's validators and its constraints' messages.

Editing a policy never moves running clocks (they carry a copy of their targets); switching
one off cancels the clocks it runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from core.services import model_update
from slas.models import SLAPolicy
from slas.services.clocks import clocks_cancel_for_policy

if TYPE_CHECKING:
    from core.models import User

POLICY_FIELDS = (
    "name", "position", "active", "service_plan", "severity", "kind", "community",
    "first_response_minutes", "first_response_business",
    "next_update_minutes", "next_update_business",
    "resolution_minutes", "resolution_business",
    "warn_percent", "warn_minutes_before", "notify_around_the_clock", "pause_when_pending",
)  # fmt: skip


def sla_policy_create(*, actor: User | None = None, **data: Any) -> SLAPolicy:
    unknown = set(data) - set(POLICY_FIELDS)
    if unknown:
        raise TypeError(f"Unknown policy fields: {sorted(unknown)}")
    policy = SLAPolicy(**data)
    policy.full_clean()
    policy._history_user = actor  # type: ignore[attr-defined]
    policy.save()
    return policy


def sla_policy_update(
    *, policy: SLAPolicy, data: dict[str, Any], actor: User | None = None
) -> SLAPolicy:
    """Change a policy. Running clocks keep the targets they were armed with; switching the
    policy off cancels them."""
    with transaction.atomic():
        policy = SLAPolicy.objects.select_for_update().get(pk=policy.pk)
        was_active = policy.active
        policy._history_user = actor  # type: ignore[attr-defined]
        policy, _ = model_update(instance=policy, fields=POLICY_FIELDS, data=data)
        if was_active and not policy.active:
            clocks_cancel_for_policy(policy=policy, at=timezone.now(), actor=actor)
    return policy
