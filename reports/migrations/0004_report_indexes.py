"""Indexes the reports read at scale (docs/reporting.md, "Indexes").

Covering indexes over the period bounds the figures filter on, so the period's tickets,
satisfaction answers and SLA clocks are read from an index range (index-only where the
visibility map allows) rather than the tables, and the public messages' partial index that
first-contact resolution probes once per resolved ticket. They live on other apps' tables
and are the reports' own, so they are raw SQL here (no model state changes).
"""

from django.db import migrations

INDEXES = (
    (
        "report_ticket_created",
        "tickets_ticket (created_at) INCLUDE (community_id, first_responded_at, status, tier, "
        "severity, channel, assignee_id, requester_id)",
    ),
    (
        "report_ticket_resolved",
        "tickets_ticket (resolved_at) INCLUDE (community_id, created_at, tier, severity, channel, "
        "assignee_id) WHERE resolved_at IS NOT NULL",
    ),
    (
        "report_rating_answered",
        "tickets_satisfactionrating (answered_at) INCLUDE (ticket_id, score) "
        "WHERE answered_at IS NOT NULL",
    ),
    (
        "report_message_public",
        "tickets_message (ticket_id) INCLUDE (author_id) WHERE kind = 'public'",
    ),
    (
        "report_clock_started",
        "slas_slatarget (metric, started_at) INCLUDE (community_id, ticket_id, state, met_at, "
        "due_at, breached_at, used_seconds)",
    ),
)


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0003_knowledge_base_targets"),
        ("tickets", "0005_budget_priority"),
        ("slas", "0002_cheaper_breaches"),
    ]

    operations = [
        migrations.RunSQL(
            f"CREATE INDEX IF NOT EXISTS {name} ON {definition}",
            reverse_sql=f"DROP INDEX IF EXISTS {name}",
        )
        for name, definition in INDEXES
    ]
