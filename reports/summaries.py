"""Scheduled summaries: weekly to the support leads (all communities), monthly to each
community's representatives (their community only). Each is sent once per period
(ReportMailing rows, unique)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from communities.models import Community, Membership
from reports import mail, metrics
from reports.models import ReportMailing
from reports.targets import support_lead_emails

SUMMARY_METRICS = (
    "volume",
    "resolved",
    "first_response",
    "resolution",
    "sla_first_response",
    "sla_resolution",
    "first_contact_resolution",
    "escalation_rate",
    "satisfaction",
    "backlog",
)


def _claim(kind: str, start: datetime, community: Community | None) -> ReportMailing | None:
    try:
        with transaction.atomic():
            return ReportMailing.objects.create(kind=kind, period_start=start, community=community)
    except IntegrityError:
        return None


def _figures(f: metrics.Filters) -> list[metrics.Compared]:
    return [metrics.compare(key, f) for key in SUMMARY_METRICS]


def weekly_summary_send(*, now: datetime | None = None) -> int:
    """The last full week (Monday to Monday, desk time zone) to the support leads."""
    now = timezone.localtime(now or timezone.now())
    monday = (now - timedelta(days=now.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    start, end = monday - timedelta(days=7), monday
    mailing = _claim("weekly_leads", start, None)
    if mailing is None:
        return 0
    f = metrics.Filters(
        start=start, end=end, community_ids=tuple(Community.objects.values_list("pk", flat=True))
    )
    sent = mail.send(
        to=support_lead_emails(),
        subject=f"[Support Desk] Weekly summary, week of {start:%Y-%m-%d}",
        template="reports/email/summary.txt",
        context={
            "title": "All communities",
            "start": start,
            "end": end,
            "figures": _figures(f),
            "budgets": metrics.budget_rows(f.community_ids),
        },
    )
    ReportMailing.objects.filter(pk=mailing.pk).update(recipients=sent)
    return sent


def monthly_summaries_send(*, now: datetime | None = None) -> int:
    """The last full month to each active community's representatives."""
    now = timezone.localtime(now or timezone.now())
    first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    start = (first - timedelta(days=1)).replace(day=1)
    total = 0
    for community in Community.objects.filter(active=True):
        emails = list(
            Membership.objects.filter(
                community=community, role=Membership.Role.REPRESENTATIVE, user__is_active=True
            ).values_list("user__email", flat=True)
        )
        if not emails:
            continue
        mailing = _claim("monthly_community", start, community)
        if mailing is None:
            continue
        f = metrics.Filters(start=start, end=first, community_ids=(community.pk,))
        sent = mail.send(
            to=emails,
            subject=f"[Support Desk] {community.name}: support in {start:%B %Y}",
            template="reports/email/summary.txt",
            context={
                "title": community.name,
                "start": start,
                "end": first,
                "figures": _figures(f),
                "budgets": metrics.budget_rows(f.community_ids),
                "community": community,
            },
        )
        ReportMailing.objects.filter(pk=mailing.pk).update(recipients=sent)
        total += sent
    return total
