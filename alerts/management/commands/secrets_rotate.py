"""``manage.py secrets_rotate``: seal every stored secret (monitors' secret properties, alert
channels' secret settings) again with the first key of ``NANOMON_SECRETS_KEY``, opening them
with any of its keys (or the key derived from DJANGO_SECRET_KEY, used when the variable was not
set). Then the old keys can be removed from the variable (docs/security.md)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from alerts.secrets_store import secrets_reseal


class Command(BaseCommand):
    help = "Re-encrypt every stored secret with the first key of NANOMON_SECRETS_KEY."

    def handle(self, *args, **options) -> None:
        def progress(what: str, done: int, total: int) -> None:
            self.stdout.write(f"{what}: {done}/{total} rows checked")

        counts = secrets_reseal(progress)
        self.stdout.write(
            f"re-encrypted with the first key: {counts.monitors} monitor(s), "
            f"{counts.channels} alert channel(s)"
        )
        if counts.failed:
            raise CommandError(
                f"no key opens the secrets of {counts.failed.describe()}: left as they were "
                "(add the key they were sealed with to NANOMON_SECRETS_KEY and run it again)"
            )
