"""The mail reporting sends: threshold crossings, budget notices, scheduled summaries.

Each is queued in the email channel's outbox (tickets.mail.outbound.mail_queue) in the
caller's transaction, under the cause's id (the crossing, the budget notice, the mailing),
so a check or a task that runs twice queues nothing twice; the `mail.send` task sends it
after commit, with retries. The templates are the kinds' own (templates/tickets/email/,
editable in the admin) and see plain values only: the figures as the dashboards show them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from communities.models import Community, Membership
from core.models import User
from reports import metrics
from reports.models import BudgetNotice, ReportMailing, Target, ThresholdCrossing
from tickets.mail.models import MailKind, OutboundMail
from tickets.mail.outbound import mail_queue


def support_leads() -> list[User]:
    """The members of the REPORTS_LEADS_GROUP group; none: the superusers."""
    active = User.objects.filter(is_active=True).exclude(email="")
    leads = active.filter(groups__name=settings.REPORTS_LEADS_GROUP)
    if not leads.exists():
        leads = active.filter(is_superuser=True)
    return list(leads.distinct().order_by("email"))


def representatives(community_id: int) -> list[User]:
    users: QuerySet[User] = User.objects.filter(
        is_active=True,
        memberships__community_id=community_id,
        memberships__role=Membership.Role.REPRESENTATIVE,
    ).exclude(email="")
    return list(users.distinct().order_by("email"))


def _to(users: Sequence[User]) -> list[tuple[str, User]]:
    return [(user.email, user) for user in users]


def _day(at: datetime, tz: ZoneInfo | None = None) -> str:
    return timezone.localtime(at, tz).strftime("%Y-%m-%d")


def desk_url(dashboard: str) -> str:
    return f"{settings.SITE_URL}/desk/reports/{dashboard}/"


def portal_url(community: Community) -> str:
    return f"{settings.SITE_URL}/portal/reports/{community.slug}/"


# ---------------------------------------------------------------- threshold crossings


def threshold_crossed_queue(
    *, crossing: ThresholdCrossing, figure: metrics.Figure
) -> list[OutboundMail]:
    """Tell the support leads that `crossing`'s target is missed, with `figure` as measured."""
    target: Target = crossing.target
    return mail_queue(
        kind=MailKind.THRESHOLD_CROSSED,
        dedup_key=f"crossing:{crossing.pk}",
        recipients=_to(support_leads()),
        context={
            "figure": {
                "key": target.metric,
                "label": figure.label,
                "value": metrics.format_value(crossing.value, figure.unit),
                "target": metrics.format_value(float(target.target), figure.unit),
                "threshold": metrics.format_value(float(target.threshold), figure.unit),
                "direction": target.get_direction_display().lower(),
                "window_days": target.window_days,
            },
            "crossed_at": timezone.localtime(crossing.crossed_at).strftime("%Y-%m-%d %H:%M %Z"),
            "url": desk_url("support"),
        },
    )


# ---------------------------------------------------------------- budget notices


def budget_notice_queue(*, notice: BudgetNotice) -> list[OutboundMail]:
    """Tell the community's representatives and the support leads that its budget for the
    period reached the notice's level. Each reads the page they can open: the portal's
    community report, or the desk's Community dashboard."""
    period = notice.period
    community = period.community
    tz = ZoneInfo(community.time_zone)
    budget_minutes = int(period.hours * 60)
    context = {
        "community": {"name": community.name},
        "level": notice.level,
        "period": {
            "kind": period.kind,
            "starts": _day(period.starts_at, tz),
            "ends": _day(period.ends_at - timedelta(microseconds=1), tz),
        },
        "used_hours": f"{notice.used_minutes / 60:.1f}",
        "budget_hours": f"{budget_minutes / 60:.1f}",
        "used_percent": metrics.format_value(
            100 * notice.used_minutes / budget_minutes if budget_minutes else None, "%"
        ),
    }
    key = f"notice:{notice.pk}"
    rows = mail_queue(
        kind=MailKind.BUDGET_NOTICE,
        dedup_key=key,
        recipients=_to(representatives(community.pk)),
        context={**context, "url": portal_url(community)},
    )
    # A lead who also represents the community was told above: (cause, address) is unique.
    return rows + mail_queue(
        kind=MailKind.BUDGET_NOTICE,
        dedup_key=key,
        recipients=_to(support_leads()),
        context={**context, "url": desk_url("community")},
    )


# ---------------------------------------------------------------- scheduled summaries


def _figures(figures: Sequence[metrics.Compared]) -> list[dict[str, str]]:
    return [
        {"label": c.current.label, "value": c.current.shown, "previous": c.previous.shown}
        for c in figures
    ]


def _budgets(rows: Sequence[metrics.BudgetRow]) -> list[dict[str, str]]:
    zones = dict(
        Community.objects.filter(pk__in=[row.community_id for row in rows]).values_list(
            "pk", "time_zone"
        )
    )
    return [
        {
            "community": row.community,
            "used_hours": f"{row.used_minutes / 60:.1f}",
            "budget_hours": f"{row.budget_minutes / 60:.1f}",
            "used_percent": metrics.format_value(row.used_percent, "%"),
            "forecast_percent": metrics.format_value(row.forecast_percent, "%"),
            "ends": _day(
                row.ends_at - timedelta(microseconds=1), ZoneInfo(zones[row.community_id])
            ),
        }
        for row in rows
    ]


def summary_queue(
    *,
    mailing: ReportMailing,
    end: datetime,
    figures: Sequence[metrics.Compared],
    budgets: Sequence[metrics.BudgetRow],
) -> list[OutboundMail]:
    """The weekly summary (all communities, to the support leads) or a community's monthly
    one (to its representatives), once per mailing and recipient."""
    start = timezone.localtime(mailing.period_start)
    context = {
        "start": _day(start),
        "end": _day(end - timedelta(microseconds=1)),
        "figures": _figures(figures),
        "budgets": _budgets(budgets),
    }
    community = mailing.community
    if community is None:
        return mail_queue(
            kind=MailKind.WEEKLY_SUMMARY,
            dedup_key=f"mailing:{mailing.pk}",
            recipients=_to(support_leads()),
            context={**context, "url": desk_url("support")},
        )
    return mail_queue(
        kind=MailKind.MONTHLY_SUMMARY,
        dedup_key=f"mailing:{mailing.pk}",
        recipients=_to(representatives(community.pk)),
        context={
            **context,
            "month": start.strftime("%B %Y"),
            "community": {"name": community.name},
            "url": portal_url(community),
        },
    )
