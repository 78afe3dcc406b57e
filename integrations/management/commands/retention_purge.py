"""Purge lead payloads, normalised fields and attempt bodies older than RETENTION_DAYS."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from integrations.retention.purge import retention_purge


class Command(BaseCommand):
    help = (
        "Blank lead payloads, normalised fields, emails and attempt bodies older than "
        "RETENTION_DAYS (outcomes, reasons, contact ids and counters stay), in short batches."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="count, change nothing")
        parser.add_argument("--days", type=int, default=None, help="override RETENTION_DAYS")

    def handle(self, *args, dry_run: bool, days: int | None, **options):
        report = retention_purge(dry_run=dry_run, days=days)
        self.stdout.write(f"Retention: {report}.")
