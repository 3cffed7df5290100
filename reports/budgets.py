"""Support-budget periods: opened on their own as time passes (beat), and the notices at
80 % and 100 % used, sent once per period to staff and the community's representatives."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from communities.models import SupportBudget, TimeEntry
from core.services import create_once
from reports import mail, metrics
from reports.models import BudgetNotice, BudgetPeriod

NOTICE_LEVELS = (80, 100)


def budget_period_current(
    *, budget: SupportBudget, now: datetime | None = None
) -> tuple[BudgetPeriod, bool]:
    """The period of `budget` that contains `now`, opened if it is not yet; and whether it
    was opened by this call."""
    now = now or timezone.now()
    start, end = metrics.period_bounds(budget.period, now, ZoneInfo(budget.community.time_zone))
    try:
        with transaction.atomic():
            period, opened = BudgetPeriod.objects.get_or_create(
                community_id=budget.community_id,
                starts_at=start,
                defaults={"ends_at": end, "kind": budget.period, "hours": budget.hours},
            )
    except IntegrityError:
        period, opened = (
            BudgetPeriod.objects.get(community_id=budget.community_id, starts_at=start),
            False,
        )
    return period, opened


def budget_periods_roll(*, now: datetime | None = None) -> list[BudgetPeriod]:
    """Open the current period of every budget that has none yet; the periods opened. A new
    period resets what counts as used, so the community's tickets are re-ranked."""
    from reports.priority import community_priorities_refresh

    opened = []
    for budget in SupportBudget.objects.select_related("community"):
        period, new = budget_period_current(budget=budget, now=now)
        if new:
            opened.append(period)
            community_priorities_refresh(community_id=budget.community_id)
    return opened


def used_minutes(period: BudgetPeriod) -> int:
    minutes = TimeEntry.objects.filter(
        community_id=period.community_id,
        worked_at__gte=period.starts_at,
        worked_at__lt=period.ends_at,
    ).aggregate(m=Sum("minutes", default=0))["m"]
    return int(minutes)


def budget_notices_send(*, community_id: int, now: datetime | None = None) -> list[BudgetNotice]:
    """Tell staff and the representatives when the current period reaches 80 % and 100 %
    used: one BudgetNotice row per period and level (unique), so each is told once."""
    budget = (
        SupportBudget.objects.select_related("community").filter(community_id=community_id).first()
    )
    if budget is None or budget.hours <= 0:
        return []
    period, _ = budget_period_current(budget=budget, now=now)
    used = used_minutes(period)
    budget_minutes = int(period.hours * 60)
    sent = []
    for level in NOTICE_LEVELS:
        if used * 100 < level * budget_minutes:
            continue
        with transaction.atomic():  # the notice and its mail, both or neither
            notice = create_once(BudgetNotice, period=period, level=level, used_minutes=used)
            if notice is None:
                continue  # told before
            mail.budget_notice_queue(notice=notice)
        sent.append(notice)
    return sent
