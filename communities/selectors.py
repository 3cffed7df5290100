"""Reads of communities, and the tenancy rule: who may see which community's data.

Every view, endpoint, export and search that shows community data starts from one of the
`*_scope(user)` functions here or in `tickets.selectors`. Staff see everything; anyone
else sees only the communities they belong to.
"""

from __future__ import annotations

import calendar
import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from communities.models import Community, Membership, ServicePlan, SupportBudget, TimeEntry

if TYPE_CHECKING:
    from core.models import User


def _is_staff(user: User) -> bool:
    return bool(user.is_active and user.is_staff)


def member_community_ids(user: User) -> QuerySet[Membership, int]:
    return Membership.objects.filter(user_id=user.pk).values_list("community_id", flat=True)


def representative_community_ids(user: User) -> QuerySet[Membership, int]:
    return Membership.objects.filter(
        user_id=user.pk, role=Membership.Role.REPRESENTATIVE
    ).values_list("community_id", flat=True)


def membership_roles(user: User) -> dict[int, str]:
    """{community id: role} for every community the user belongs to."""
    return dict(Membership.objects.filter(user_id=user.pk).values_list("community_id", "role"))


def community_scope(user: User) -> QuerySet[Community]:
    communities = Community.objects.select_related("service_plan")
    if _is_staff(user):
        return communities
    return communities.filter(pk__in=member_community_ids(user))


def membership_scope(user: User) -> QuerySet[Membership]:
    """Staff see all; representatives see their communities' members; members see
    themselves and their communities' representatives (who approve their requests)."""
    memberships = Membership.objects.select_related("user", "community")
    if _is_staff(user):
        return memberships
    return memberships.filter(
        Q(community_id__in=representative_community_ids(user))
        | Q(community_id__in=member_community_ids(user), role=Membership.Role.REPRESENTATIVE)
        | Q(user_id=user.pk)
    )


def time_entry_scope(user: User) -> QuerySet[TimeEntry]:
    """Staff, and the representatives of the community whose budget the time is spent from."""
    entries = TimeEntry.objects.select_related("agent", "community")
    if _is_staff(user):
        return entries
    return entries.filter(community_id__in=representative_community_ids(user))


def service_plan_list() -> QuerySet[ServicePlan]:
    return ServicePlan.objects.all()


def membership_get(*, user: User, community_id: int) -> Membership | None:
    return Membership.objects.filter(user_id=user.pk, community_id=community_id).first()


def is_representative(*, user: User, community_id: int) -> bool:
    return Membership.objects.filter(
        user_id=user.pk, community_id=community_id, role=Membership.Role.REPRESENTATIVE
    ).exists()


def representatives_of(*, community_id: int) -> QuerySet[Membership]:
    return Membership.objects.filter(
        community_id=community_id, role=Membership.Role.REPRESENTATIVE, user__is_active=True
    ).select_related("user")


# ---------------------------------------------------------------- support budget


@dataclass(frozen=True)
class BudgetUsage:
    period: str
    period_start: datetime
    period_end: datetime
    budget_hours: Decimal | None  # None: the community has no budget set
    used_hours: Decimal

    @property
    def left_hours(self) -> Decimal | None:
        if self.budget_hours is None:
            return None
        return self.budget_hours - self.used_hours


def _period_bounds(period: str, day: date) -> tuple[date, date]:
    if period == SupportBudget.Period.YEAR:
        return date(day.year, 1, 1), date(day.year + 1, 1, 1)
    if period == SupportBudget.Period.QUARTER:
        first_month = 3 * ((day.month - 1) // 3) + 1
        start = date(day.year, first_month, 1)
    else:
        start = date(day.year, day.month, 1)
    months = 3 if period == SupportBudget.Period.QUARTER else 1
    end = start
    for _ in range(months):
        end += timedelta(days=calendar.monthrange(end.year, end.month)[1])
    return start, end


def budget_usage(*, community: Community, at: datetime | None = None) -> BudgetUsage:
    """Hours used and left in the budget period that contains `at` (default: now).

    Periods are calendar months, quarters or years in the community's own time zone.
    """
    tz = zoneinfo.ZoneInfo(community.time_zone)
    at = at or timezone.now()
    budget = SupportBudget.objects.filter(community=community).first()
    period = budget.period if budget else SupportBudget.Period.MONTH
    start_day, end_day = _period_bounds(period, at.astimezone(tz).date())
    start = datetime.combine(start_day, time.min, tzinfo=tz)
    end = datetime.combine(end_day, time.min, tzinfo=tz)
    minutes = TimeEntry.objects.filter(
        community=community, worked_at__gte=start, worked_at__lt=end
    ).aggregate(total=Sum("minutes"))["total"]
    used = (Decimal(minutes or 0) / 60).quantize(Decimal("0.01"))
    return BudgetUsage(
        period=period,
        period_start=start,
        period_end=end,
        budget_hours=budget.hours if budget else None,
        used_hours=used,
    )
