"""Fit the learned category suggestion on this desk's resolved and closed tickets, and
write it to ROUTING_MODEL_PATH (workers pick the new version up on their next ticket)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from routing.learning import NotEnoughData
from routing.services.learned import router_train


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", type=Path, help="where to write (ROUTING_MODEL_PATH)")
        parser.add_argument(
            "--min-per-category",
            type=int,
            default=5,
            help="leave out categories with fewer resolved tickets (default 5)",
        )
        parser.add_argument(
            "--limit", type=int, default=50_000, help="learn from the newest N tickets"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = router_train(
                path=options["output"],
                min_per_category=options["min_per_category"],
                limit=options["limit"],
            )
        except NotEnoughData as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"Learned from {report.samples} tickets:")
        for slug, count in report.per_category.items():
            self.stdout.write(f"  {slug}: {count}")
        for slug, count in report.left_out.items():
            self.stdout.write(f"  {slug}: {count} (too few, left out)")
        self.stdout.write(
            self.style.SUCCESS(f"Model version {report.version} written to {report.path}")
        )
