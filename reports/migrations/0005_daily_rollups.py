"""Daily roll-ups (reports.rollups) and the triggers that mark the hours to rebuild.

A trigger marks the hour (UTC) of each time a roll-up row is keyed by (a ticket's opening
and resolution, an SLA clock's start, a satisfaction answer) whenever a row it sums is
inserted, deleted, or changed in a column it reads; a message, a tier escalation or a
reopening in the audit trail marks its ticket's. Marking an hour already marked writes nothing.
"""

import django.contrib.postgres.fields
import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

def _row_function(name: str, *columns: str) -> str:
    """A trigger function marking the hours of the old and the new row's `columns`."""

    def marks(row: str) -> str:
        return "\n".join(f"        PERFORM reports_mark_hour({row}.{c});" for c in columns)

    return f"""
CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
{marks("OLD")}
    END IF;
    IF TG_OP <> 'DELETE' THEN
{marks("NEW")}
    END IF;
    RETURN NULL;
END $$;
"""


MARK = """
CREATE FUNCTION reports_mark_hour(at timestamptz) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF at IS NOT NULL THEN
        INSERT INTO reports_rollupdirtyhour (hour)
        VALUES (date_trunc('hour', at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')
        ON CONFLICT DO NOTHING;
    END IF;
END $$;

-- A message or a tier escalation: its ticket's opening and resolution hours.
CREATE FUNCTION reports_mark_ticket() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    opened timestamptz;
    resolved timestamptz;
BEGIN
    SELECT created_at, resolved_at INTO opened, resolved FROM tickets_ticket
    WHERE id = (CASE WHEN TG_OP = 'DELETE' THEN OLD.ticket_id ELSE NEW.ticket_id END);
    PERFORM reports_mark_hour(opened);
    PERFORM reports_mark_hour(resolved);
    RETURN NULL;
END $$;
"""


def _on(table: str, watched: str, function: str, name: str) -> str:
    """Triggers on inserts and deletes, and on updates that change a watched column."""
    changed = " OR ".join(
        f"OLD.{c.strip()} IS DISTINCT FROM NEW.{c.strip()}" for c in watched.split(",")
    )
    return f"""
CREATE TRIGGER {name}_write AFTER INSERT OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION {function}();
CREATE TRIGGER {name}_change AFTER UPDATE ON {table}
    FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION {function}();
"""


TRIGGERS = (
    MARK
    + _row_function("reports_mark_ticket_row", "created_at", "resolved_at")
    + _row_function("reports_mark_clock_row", "started_at")
    + _row_function("reports_mark_rating_row", "answered_at")
    + _on(
        "tickets_ticket",
        "community_id, created_at, status, first_responded_at, resolved_at, tier, channel, "
        "requester_id",
        "reports_mark_ticket_row",
        "reports_rollup_ticket",
    )
    + _on(
        "slas_slatarget",
        "community_id, metric, state, started_at, due_at, met_at, breached_at, used_seconds",
        "reports_mark_clock_row",
        "reports_rollup_clock",
    )
    + _on(
        "tickets_satisfactionrating",
        "ticket_id, score, answered_at",
        "reports_mark_rating_row",
        "reports_rollup_rating",
    )
    + _on("tickets_message", "ticket_id, kind, author_id", "reports_mark_ticket",
          "reports_rollup_message")  # fmt: skip
    + _on("routing_tierescalation", "ticket_id, direction", "reports_mark_ticket",
          "reports_rollup_escalation")  # fmt: skip
    # A reopening is read from the audit trail (the ticket's status changes too).
    + """
CREATE TRIGGER reports_rollup_reopen_write AFTER INSERT ON tickets_ticketevent
    FOR EACH ROW WHEN (NEW.kind = 'status_changed' AND NEW.data ->> 'transition' = 'reopen')
    EXECUTE FUNCTION reports_mark_ticket();
"""
)

DROP_TRIGGERS = """
DROP TRIGGER IF EXISTS reports_rollup_ticket_write ON tickets_ticket;
DROP TRIGGER IF EXISTS reports_rollup_ticket_change ON tickets_ticket;
DROP TRIGGER IF EXISTS reports_rollup_clock_write ON slas_slatarget;
DROP TRIGGER IF EXISTS reports_rollup_clock_change ON slas_slatarget;
DROP TRIGGER IF EXISTS reports_rollup_rating_write ON tickets_satisfactionrating;
DROP TRIGGER IF EXISTS reports_rollup_rating_change ON tickets_satisfactionrating;
DROP TRIGGER IF EXISTS reports_rollup_message_write ON tickets_message;
DROP TRIGGER IF EXISTS reports_rollup_message_change ON tickets_message;
DROP TRIGGER IF EXISTS reports_rollup_escalation_write ON routing_tierescalation;
DROP TRIGGER IF EXISTS reports_rollup_escalation_change ON routing_tierescalation;
DROP TRIGGER IF EXISTS reports_rollup_reopen_write ON tickets_ticketevent;
DROP FUNCTION IF EXISTS reports_mark_ticket();
DROP FUNCTION IF EXISTS reports_mark_rating_row();
DROP FUNCTION IF EXISTS reports_mark_clock_row();
DROP FUNCTION IF EXISTS reports_mark_ticket_row();
DROP FUNCTION IF EXISTS reports_mark_hour(timestamptz);
"""


class Migration(migrations.Migration):

    dependencies = [
        ('communities', '0002_initial'),
        ('reports', '0004_report_indexes'),
        ('routing', '0001_initial'),
        ('slas', '0002_cheaper_breaches'),
        ('tickets', '0006_resolved_index_covers_reports'),
    ]

    operations = [
        migrations.CreateModel(
            name='RollupDirtyHour',
            fields=[
                ('hour', models.DateTimeField(primary_key=True, serialize=False)),
            ],
        ),
        migrations.CreateModel(
            name='RollupState',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('time_zone', models.CharField(max_length=64)),
                ('first_day', models.DateField()),
                ('last_day', models.DateField()),
                ('updated_at', models.DateTimeField(default=django.utils.timezone.now)),
            ],
        ),
        migrations.CreateModel(
            name='DailyRollup',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField()),
                ('opened', models.PositiveIntegerField(default=0)),
                ('opened_done', models.PositiveIntegerField(default=0)),
                ('responded', models.PositiveIntegerField(default=0)),
                ('escalated', models.PositiveIntegerField(default=0)),
                ('kb_used', models.PositiveIntegerField(default=0)),
                ('opened_by_tier', models.JSONField(default=dict)),
                ('opened_by_channel', models.JSONField(default=dict)),
                ('response_seconds', django.contrib.postgres.fields.ArrayField(base_field=models.FloatField(), blank=True, default=list, size=None)),
                ('resolved', models.PositiveIntegerField(default=0)),
                ('first_contact', models.PositiveIntegerField(default=0)),
                ('reopened', models.PositiveIntegerField(default=0)),
                ('resolution_seconds', django.contrib.postgres.fields.ArrayField(base_field=models.FloatField(), blank=True, default=list, size=None)),
                ('fr_decided', models.PositiveIntegerField(default=0)),
                ('fr_in_time', models.PositiveIntegerField(default=0)),
                ('nu_decided', models.PositiveIntegerField(default=0)),
                ('nu_in_time', models.PositiveIntegerField(default=0)),
                ('res_decided', models.PositiveIntegerField(default=0)),
                ('res_in_time', models.PositiveIntegerField(default=0)),
                ('fr_business_seconds', django.contrib.postgres.fields.ArrayField(base_field=models.FloatField(), blank=True, default=list, size=None)),
                ('res_business_seconds', django.contrib.postgres.fields.ArrayField(base_field=models.FloatField(), blank=True, default=list, size=None)),
                ('rated', models.PositiveIntegerField(default=0)),
                ('rated_good', models.PositiveIntegerField(default=0)),
                ('built_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('community', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='communities.community')),
            ],
            options={
                'ordering': ('day', 'community'),
                'constraints': [models.UniqueConstraint(fields=('day', 'community'), name='daily_rollup_once')],
            },
        ),
        migrations.RunSQL(TRIGGERS, reverse_sql=DROP_TRIGGERS),
        # The tickets' own index on resolved_at now covers the same columns.
        migrations.RunSQL(
            "DROP INDEX IF EXISTS report_ticket_resolved",
            reverse_sql="CREATE INDEX IF NOT EXISTS report_ticket_resolved ON tickets_ticket "
            "(resolved_at) INCLUDE (community_id, created_at, tier, severity, channel, "
            "assignee_id) WHERE resolved_at IS NOT NULL",
        ),
    ]
