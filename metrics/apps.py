import time
from datetime import UTC, datetime

from django.apps import AppConfig
from django.conf import settings

# When this process started (near enough: Django sets its apps up first thing), for the
# uptime /api/status reports.
STARTED_MONOTONIC = time.monotonic()
STARTED_AT = datetime.now(UTC)


class MetricsConfig(AppConfig):
    name = "metrics"
    verbose_name = "Metrics"

    def ready(self) -> None:
        from alerts.signals import delivery_attempted
        from metrics.services import delivery_attempt_count

        # Each delivery attempt counted in the transaction that records it (alerts, below
        # metrics, imports nothing of it).
        delivery_attempted.connect(delivery_attempt_count, dispatch_uid="metrics.deliveries")
        if settings.PROMETHEUS_MULTIPROC_DIR:
            from metrics.multiprocess import compact_dead_processes

            # Fold the files of web workers that have exited into the archive, so the folder
            # stays small while their counts keep adding up (see metrics/multiprocess.py).
            compact_dead_processes(settings.PROMETHEUS_MULTIPROC_DIR)
