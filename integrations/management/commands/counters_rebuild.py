"""Rebuild the health counters of a range of days from the raw delivery rows."""

from __future__ import annotations

from datetime import date, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from integrations.health.reconcile import counters_reconcile


class Command(BaseCommand):
    help = (
        "Recompute the daily health counters of --from..--to (UTC days, inclusive; "
        "default yesterday) from the deliveries, and repair any that differ."
    )

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="first", type=date.fromisoformat, help="YYYY-MM-DD")
        parser.add_argument("--to", dest="last", type=date.fromisoformat, help="YYYY-MM-DD")
        parser.add_argument(
            "--dry-run", action="store_true", help="report the differences, change nothing"
        )

    def handle(self, *args, first=None, last=None, dry_run=False, **options):
        yesterday = timezone.now().date() - timedelta(days=1)
        first = first or last or yesterday
        last = last or max(first, yesterday)
        if last < first:
            raise CommandError("--to is before --from")
        result = counters_reconcile(first_day=first, last_day=last, repair=not dry_run)
        for difference in result.differences[:50]:
            stored = difference.stored.deliveries if difference.stored else 0
            actual = difference.actual.deliveries if difference.actual else 0
            key = difference.key
            self.stdout.write(
                f"  {key.day} step {key.step_id} {key.outcome} {key.reason!r}: "
                f"counted {stored}, deliveries {actual}"
            )
        verb = "would repair" if dry_run else "repaired"
        self.stdout.write(
            f"Counters {first}..{last}: {result.keys_checked} keys checked, "
            f"{len(result.differences)} differed ({result.deliveries_off} deliveries), "
            f"{verb} {len(result.differences) if (dry_run or result.repaired) else 0}."
        )
