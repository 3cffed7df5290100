"""The seeds' KPIs as the default targets (reports.targets.DEFAULT_TARGETS)."""

from django.db import migrations

DEFAULTS = (
    ("first_response", "lower", 120, 240, "seed 000 KPI: first response < 2 h; alert > 4 h"),
    ("resolution_rate", "higher", 90, 85, "seed 000 KPI: resolution rate > 90 %; alert < 85 %"),
    ("satisfaction", "higher", 90, 80,
     "seed 001 §2.3: satisfaction ≥ 90 %; seed 000 alert < 4.0/5 (80 %)"),
    ("first_contact_resolution", "higher", 85, 80,
     "seed 001 §2.3: 85 %; seed 000 quality target > 80 %"),
    ("escalation_rate", "lower", 10, 30, "seed 001 §2.3: < 10 %; seed 002: L1 → L2 < 30 %"),
    ("page_acknowledge", "lower", 5, 15,
     "seed 002: acknowledge < 5 min; seed 000: immediate acknowledgement < 15 min"),
    ("sla_first_response", "higher", 100, 95, "seed 002: response time SLA, target 100 %"),
    ("sla_resolution", "higher", 90, 85, "seed 002: resolution time, target 90 %"),
)  # fmt: skip


def add_defaults(apps, schema_editor):  # type: ignore[no-untyped-def]
    Target = apps.get_model("reports", "Target")
    for metric, direction, target, threshold, source in DEFAULTS:
        Target.objects.get_or_create(
            metric=metric,
            defaults={
                "direction": direction,
                "target": target,
                "threshold": threshold,
                "source": source,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("reports", "0001_reporting")]

    operations = [migrations.RunPython(add_defaults, migrations.RunPython.noop)]
