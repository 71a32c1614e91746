"""``manage.py rollups_rebuild [--monitor ID] [--since DATE]``: recompute rollups from raw
results (docs/rollups.md).

Per monitor, in one transaction under its lock: delete its hour and day rows from ``--since``
(a UTC day) and add up its raw results again, counting apart the runs that started inside a
maintenance window covering it as the windows stand now (how a window entered afterwards
reaches uptime); running it twice gives the same rows. Without
``--since`` it starts at the UTC day of the oldest raw result still kept, and never at a day
results retention may have cut into (the rollups are all that is left of it). A progress bar on
a terminal, then one summary line.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.dateparse import parse_date, parse_datetime

from alerts.maintenance import maintenance_test
from monitors.models import Monitor
from results.rollups import rebuild_since_default, rollups_rebuild_monitor


def _since(text: str) -> datetime:
    moment = parse_datetime(text)
    if moment is None:
        day = parse_date(text)
        if day is None:
            raise CommandError(f"--since must be a date (2026-11-21) or RFC 3339 time: {text!r}")
        moment = datetime(day.year, day.month, day.day)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Command(BaseCommand):
    help = "Recompute the hour and day rollups from the raw results (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--monitor", type=int, help="only this monitor id")
        parser.add_argument(
            "--since", help="from this UTC day (default: the oldest complete day of results)"
        )

    def handle(self, *args, **options) -> None:
        since = _since(options["since"]) if options["since"] else rebuild_since_default()
        monitors = Monitor.objects.order_by("pk")
        if options["monitor"] is not None:
            monitors = monitors.filter(pk=options["monitor"])
            if not monitors.exists():
                raise CommandError(f"no monitor {options['monitor']}")
        ids = list(monitors.values_list("pk", flat=True))
        if since is None:
            self.stdout.write("rollups_rebuild: no results, nothing to rebuild")
            return
        tty = getattr(self.stdout, "isatty", lambda: False)() and sys.stdout.isatty()
        started = time.monotonic()
        results = rows = 0
        for done, monitor_id in enumerate(ids, 1):
            counted, written = rollups_rebuild_monitor(
                monitor_id, since, maintenance_test(monitor_id)
            )
            results += counted
            rows += written
            if tty:
                filled = round(30 * done / len(ids))
                self.stdout.write(
                    f"\r[{'#' * filled}{'.' * (30 - filled)}] {done}/{len(ids)} monitors",
                    ending="",
                )
                self.stdout.flush()
        if tty:
            self.stdout.write("")
        plural = "" if len(ids) == 1 else "s"
        self.stdout.write(
            f"rollups_rebuild: {len(ids)} monitor{plural}, {results} results since "
            f"{since:%Y-%m-%d} UTC, {rows} hour and day rows written in "
            f"{time.monotonic() - started:.1f}s"
        )
