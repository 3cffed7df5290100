"""The seeds' knowledge-base figures as targets (reports.targets.DEFAULT_TARGETS)."""

from django.db import migrations

DEFAULTS = (
    ("kb_usage", "higher", 70, 50,
     "seed 001 §2.3: knowledge base usage 70 %; §13 baseline 50 %"),
    ("self_service_share", "higher", 85, 80,
     "seed 000 KPI: self-service success > 85 %; alert < 80 %"),
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
    dependencies = [("reports", "0002_default_targets")]

    operations = [migrations.RunPython(add_defaults, migrations.RunPython.noop)]
