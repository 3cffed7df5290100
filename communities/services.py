"""Every write to communities, memberships, plans, budgets and time entries."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from communities.errors import AlreadyMember, NotAgent
from communities.models import Community, Membership, ServicePlan, SupportBudget, TimeEntry
from core import outbox
from core.services import model_update

if TYPE_CHECKING:
    from core.models import User
    from tickets.models import Ticket

SERVICE_PLAN_FIELDS = (
    "name", "slug", "position", "uptime_guarantee", "downtime_credit_percent",
    "maintenance_window", "description",
)  # fmt: skip
COMMUNITY_FIELDS = ("name", "slug", "time_zone", "service_plan", "active")


def service_plan_create(
    *,
    name: str,
    slug: str,
    uptime_guarantee: Decimal,
    downtime_credit_percent: int,
    position: int = 0,
    maintenance_window: str = "",
    description: str = "",
) -> ServicePlan:
    plan = ServicePlan(
        name=name,
        slug=slug,
        position=position,
        uptime_guarantee=uptime_guarantee,
        downtime_credit_percent=downtime_credit_percent,
        maintenance_window=maintenance_window,
        description=description,
    )
    plan.full_clean()
    plan.save()
    return plan


def service_plan_update(*, plan: ServicePlan, data: dict[str, Any]) -> ServicePlan:
    plan, _ = model_update(instance=plan, fields=SERVICE_PLAN_FIELDS, data=data)
    return plan


def community_create(
    *, name: str, slug: str, service_plan: ServicePlan, time_zone: str = "UTC", active: bool = True
) -> Community:
    community = Community(
        name=name, slug=slug, service_plan=service_plan, time_zone=time_zone, active=active
    )
    community.full_clean()
    community.save()
    return community


def community_update(*, community: Community, data: dict[str, Any]) -> Community:
    community, _ = model_update(instance=community, fields=COMMUNITY_FIELDS, data=data)
    return community


def membership_add(*, community: Community, user: User, role: str) -> Membership:
    membership = Membership(community=community, user=user, role=role)
    membership.full_clean(validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            membership.save()
    except IntegrityError as exc:
        raise AlreadyMember(f"{user} is already a member of {community}.", field="user") from exc
    return membership


def membership_set_role(*, membership: Membership, role: str) -> Membership:
    membership, _ = model_update(instance=membership, fields=("role",), data={"role": role})
    return membership


def membership_remove(*, membership: Membership) -> None:
    membership.delete()


def support_budget_set(*, community: Community, hours: Decimal, period: str) -> SupportBudget:
    with transaction.atomic():
        budget = SupportBudget.objects.select_for_update().filter(community=community).first()
        if budget is None:
            budget = SupportBudget(community=community, hours=hours, period=period)
            budget.full_clean(validate_unique=False)
            budget.save()
            return budget
        budget, _ = model_update(
            instance=budget, fields=("hours", "period"), data={"hours": hours, "period": period}
        )
        return budget


def time_entry_log(
    *,
    ticket: Ticket,
    agent: User,
    minutes: int,
    note: str = "",
    worked_at: datetime | None = None,
) -> TimeEntry:
    """Log an agent's minutes on a ticket, counted against the ticket's community budget."""
    if not (agent.is_active and agent.is_staff):
        raise NotAgent("Only agents log time.", field="agent")
    entry = TimeEntry(
        ticket=ticket,
        community_id=ticket.community_id,
        agent=agent,
        minutes=minutes,
        note=note,
        worked_at=worked_at or timezone.now(),
    )
    entry.full_clean()
    with transaction.atomic():
        entry.save()
        # The budget used moved: reports re-ranks the community's requests and sends the
        # 80 % / 100 % notices (supportdesk/events.py).
        outbox.publish("time.logged", community_id=entry.community_id, ticket_id=ticket.pk)
    return entry


def time_entry_delete(*, entry: TimeEntry) -> None:
    with transaction.atomic():
        entry.delete()
        outbox.publish("time.logged", community_id=entry.community_id, ticket_id=entry.ticket_id)
