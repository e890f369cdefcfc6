"""Compute the analytics daily rollups now, as the beat task does.

    manage.py analytics_rollup [--recent-days 3] [--backfill-days 365]

Handy right after a deployment or an import of old runs; the beat task keeps them fresh.
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand

from analytics.periods import MAX_DAYS
from analytics.services import RECENT_DAYS, rollup_refresh


class Command(BaseCommand):
    help = "Compute the analytics daily rollups of closed days (recent ones and any missing)."

    def add_arguments(self, parser):
        parser.add_argument("--recent-days", type=int, default=RECENT_DAYS, help="Closed days to recompute.")
        parser.add_argument(
            "--backfill-days", type=int, default=MAX_DAYS, help="How far back missing days are filled in."
        )

    def handle(self, *args, recent_days: int, backfill_days: int, **options):
        started = time.perf_counter()
        days = rollup_refresh(recent_days=recent_days, backfill_days=backfill_days)
        elapsed = time.perf_counter() - started
        if days:
            self.stdout.write(f"Rolled up {len(days)} day(s), {days[0]} to {days[-1]}, in {elapsed:.1f} s.")
        else:
            self.stdout.write("Nothing to roll up.")
