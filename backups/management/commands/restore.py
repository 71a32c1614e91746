"""``manage.py restore FILE [--yes]``: restore a backup (``-``: standard input). The backup
becomes the state (monitors, alert channels, policies, maintenance windows; a full one also
each monitor's state, results and rollups), or nothing changes: a refused file names its line."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError

from backups.progress import Progress
from backups.records import Refused
from backups.restore import restore_stream


class Command(BaseCommand):
    help = (
        "Restore a backup: it replaces every monitor, alert channel, policy and maintenance "
        "window (and history)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", help="The backup (JSON Lines); - reads standard input.")
        parser.add_argument("--yes", action="store_true", help="Do not ask for confirmation.")

    def handle(self, *args, file: str, yes: bool, **options) -> None:
        if not yes:
            if file == "-" or not sys.stdin.isatty():
                raise CommandError("restoring replaces everything: confirm with --yes")
            answer = input(
                "This replaces every monitor, alert channel, policy and maintenance window "
                "(and the history) with the backup's. Type yes to go on: "
            )
            if answer.strip().lower() != "yes":
                raise CommandError("nothing restored")
        try:
            stream = sys.stdin.buffer if file == "-" else open(file, "rb")  # noqa: SIM115
        except OSError as error:
            raise CommandError(f"cannot read {file}: {error.strerror}") from None
        progress = Progress(self.stderr, "restored")
        try:
            restored = restore_stream(stream.readline, progress=progress.update)
        except Refused as refused:
            progress.clear()
            raise CommandError(f"{file}: {refused} (nothing was changed)") from None
        finally:
            if stream is not sys.stdin.buffer:
                stream.close()
        progress.done(f"{restored.header.kind} backup restored from {file}")
