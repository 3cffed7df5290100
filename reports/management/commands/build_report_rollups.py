"""Build the reports' daily roll-ups now: every past day not held yet, and the days changed
since their build (beat does the same every minute, a bounded number of days at a time)."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand

from reports.rollups import rollups_refresh


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        days = rollups_refresh()
        self.stdout.write(f"{days} days built in {time.perf_counter() - started:.1f} s")
