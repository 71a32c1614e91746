"""``manage.py alert_history_retention [--dry-run]``: what the hourly beat task does, now."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from alerts.retention import alert_history_retention


class Command(BaseCommand):
    help = (
        "Apply ALERT_HISTORY_RETENTION now: delete old transitions, finished notifications and "
        "their delivery attempts (never what an open outage or the state machine needs)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="Print what would be done; change nothing."
        )

    def handle(self, *args, **options):
        report = alert_history_retention(dry_run=options["dry_run"])
        for line in report.lines():
            self.stdout.write(line)
