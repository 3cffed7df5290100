from django.db import migrations


class Migration(migrations.Migration):
    """Ticket references read SD-1001, SD-1002, ... rather than SD-1."""

    dependencies = [("tickets", "0001_initial")]

    operations = [
        migrations.RunSQL(
            "ALTER TABLE tickets_ticket ALTER COLUMN id RESTART WITH 1001",
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
