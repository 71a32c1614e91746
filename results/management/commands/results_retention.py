"""``manage.py results_retention [--dry-run]``: what the hourly beat task does, now."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from results.partitions import results_retention


class Command(BaseCommand):
    help = (
        "Apply RESULTS_RETENTION now: create day partitions ahead and drop expired ones "
        "(PostgreSQL), delete expired results in batches (SQLite and the default partition)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="Print what would be done; change nothing."
        )

    def handle(self, *args, **options):
        report = results_retention(dry_run=options["dry_run"])
        for line in report.lines():
            self.stdout.write(line)
