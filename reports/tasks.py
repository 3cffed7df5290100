"""Thin tasks: each calls one reports service. Names, queues and the schedule are in
settings (the `# ---- reports` section)."""

from celery import shared_task
from django.db import InterfaceError, OperationalError

TRANSIENT = (OperationalError, InterfaceError)  # the database is away for a moment


@shared_task(
    name="reports.check_targets", autoretry_for=TRANSIENT, retry_backoff=True, max_retries=3
)
def check_targets() -> None:
    """Measure every target; a new crossing tells the support leads once."""
    from reports.targets import targets_check

    targets_check()


@shared_task(
    name="reports.roll_budget_periods", autoretry_for=TRANSIENT, retry_backoff=True, max_retries=3
)
def roll_budget_periods() -> None:
    """Open each budget's current period when the last one has ended (and re-rank), then
    send the 80 % / 100 % notices that are due."""
    from communities.models import SupportBudget
    from reports.budgets import budget_notices_send, budget_periods_roll
    from reports.priority import all_priorities_refresh

    budget_periods_roll()
    for community_id in SupportBudget.objects.values_list("community_id", flat=True):
        budget_notices_send(community_id=community_id)
    # Inputs no reaction reports: a ticket attached to an incident, a budget edited.
    all_priorities_refresh()


@shared_task(
    name="reports.weekly_summary", autoretry_for=TRANSIENT, retry_backoff=True, max_retries=3
)
def weekly_summary() -> None:
    from reports.summaries import weekly_summary_send

    weekly_summary_send()


@shared_task(
    name="reports.monthly_summaries", autoretry_for=TRANSIENT, retry_backoff=True, max_retries=3
)
def monthly_summaries() -> None:
    from reports.summaries import monthly_summaries_send

    monthly_summaries_send()


@shared_task(
    name="reports.refresh_rollups", autoretry_for=TRANSIENT, retry_backoff=True, max_retries=3
)
def refresh_rollups() -> None:
    """Rebuild the daily roll-ups of the past days changed since, and add yesterday."""
    from django.conf import settings

    from reports.rollups import rollups_refresh

    rollups_refresh(days_per_run=settings.REPORTS_ROLLUP_DAYS_PER_RUN)
