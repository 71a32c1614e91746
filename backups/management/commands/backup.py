"""``manage.py backup [--full] [--output FILE|-]``: the backup of /api/backup (or
/api/backup_full with ``--full``), secrets included, to a file or to standard output."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError

from backups.dump import backup_chunks
from backups.progress import Progress
from backups.records import CONFIG, FULL


class Command(BaseCommand):
    help = "Write a backup (JSON Lines): monitors, alert channels, policies; --full: history too."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--full", action="store_true", help="Add states, results and rollups.")
        parser.add_argument(
            "--output", "-o", default="-", help="File to write (default -: standard output)."
        )

    def handle(self, *args, full: bool, output: str, **options) -> None:
        kind = FULL if full else CONFIG
        progress = Progress(self.stderr, "written")
        try:
            stream = sys.stdout.buffer if output == "-" else open(output, "wb")  # noqa: SIM115
        except OSError as error:
            raise CommandError(f"cannot write {output}: {error.strerror}") from None
        try:
            for chunk in backup_chunks(
                kind, monitor_secrets=True, channel_secrets=True, progress=progress.update
            ):
                stream.write(chunk)
            stream.flush()
        finally:
            if stream is not sys.stdout.buffer:
                stream.close()
        progress.done(f"{kind} backup written to {'standard output' if output == '-' else output}")
