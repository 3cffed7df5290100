"""Scheduled summaries: weekly to the support leads (all communities), monthly to each
community's representatives (their community only). Each is sent once per period: a
ReportMailing row (unique per kind, period and community) and its mail are written
together, and the mail is queued under the mailing's id."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from communities.models import Community
from core.services import create_once
from reports import mail, metrics
from reports.models import ReportMailing
from tickets.mail.models import OutboundStatus

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


def _figures(f: metrics.Filters) -> list[metrics.Compared]:
    return [metrics.compare(key, f) for key in SUMMARY_METRICS]


def _sent(kind: str, start: datetime, community: Community | None) -> bool:
    return ReportMailing.objects.filter(kind=kind, period_start=start, community=community).exists()


def _mail(
    kind: str, start: datetime, end: datetime, community: Community | None, f: metrics.Filters
) -> int:
    """Claim the mailing and queue its mail in one transaction; the number queued (0 when
    it went before)."""
    figures, budgets = _figures(f), metrics.budget_rows(f.community_ids)
    with transaction.atomic():
        mailing = create_once(ReportMailing, kind=kind, period_start=start, community=community)
        if mailing is None:
            return 0  # went before
        rows = mail.summary_queue(mailing=mailing, end=end, figures=figures, budgets=budgets)
        queued = sum(1 for row in rows if row.status == OutboundStatus.QUEUED)
        ReportMailing.objects.filter(pk=mailing.pk).update(recipients=queued)
    return queued


def weekly_summary_send(*, now: datetime | None = None) -> int:
    """The last full week (Monday to Monday, desk time zone) to the support leads; the
    number of mails queued."""
    now = timezone.localtime(now or timezone.now())
    monday = (now - timedelta(days=now.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    start, end = monday - timedelta(days=7), monday
    if _sent("weekly_leads", start, None):
        return 0
    f = metrics.Filters(
        start=start, end=end, community_ids=tuple(Community.objects.values_list("pk", flat=True))
    )
    return _mail("weekly_leads", start, end, None, f)


def monthly_summaries_send(*, now: datetime | None = None) -> int:
    """The last full month to each active community's representatives; the number of mails
    queued."""
    now = timezone.localtime(now or timezone.now())
    first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    start = (first - timedelta(days=1)).replace(day=1)
    total = 0
    for community in Community.objects.filter(active=True):
        if not mail.representatives(community.pk) or _sent("monthly_community", start, community):
            continue
        f = metrics.Filters(start=start, end=first, community_ids=(community.pk,))
        total += _mail("monthly_community", start, first, community, f)
    return total
