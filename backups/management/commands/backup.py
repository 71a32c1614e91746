"""``manage.py backup [--full] [--with-secrets] [--output FILE|-]``: the backup of /api/backup
(or /api/backup_full with ``--full``), secrets included, to a file or to standard output:
sealed as stored (``enc:v1:…``, restorable where a key of ``NANOMON_SECRETS_KEY`` opens them),
or in plaintext with ``--with-secrets``."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError

from backups.dump import backup_chunks
from backups.progress import Progress
from backups.records import CONFIG, FULL


class Command(BaseCommand):
    help = (
        "Write a backup (JSON Lines): monitors, alert channels, policies, maintenance windows; "
        "--full: history too."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--full", action="store_true", help="Add states, results and rollups.")
        parser.add_argument(
            "--output", "-o", default="-", help="File to write (default -: standard output)."
        )
        parser.add_argument(
            "--with-secrets",
            action="store_true",
            help="Write secrets in plaintext (default: sealed as stored, enc:v1:…).",
        )

    def handle(self, *args, full: bool, output: str, with_secrets: bool, **options) -> None:
        kind = FULL if full else CONFIG
        progress = Progress(self.stderr, "written")
        try:
            stream = sys.stdout.buffer if output == "-" else open(output, "wb")  # noqa: SIM115
        except OSError as error:
            raise CommandError(f"cannot write {output}: {error.strerror}") from None
        try:
            for chunk in backup_chunks(
                kind,
                monitor_secrets=True,
                channel_secrets=True,
                plaintext=with_secrets,
                progress=progress.update,
            ):
                stream.write(chunk)
            stream.flush()
        finally:
            if stream is not sys.stdout.buffer:
                stream.close()
        progress.done(f"{kind} backup written to {'standard output' if output == '-' else output}")
