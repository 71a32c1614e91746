"""Counters of the monitoring engine and the workers' heartbeats, kept in the database.

The workers that run probes are other processes (often other hosts) than the web processes
that serve ``/metrics``. Keeping the engine's counts in rows, added to in the same transaction
as the results they describe, lets every web worker serve the same numbers in every shape
(embedded, single host, fleet) with no shared memory or extra service.
"""

from __future__ import annotations

from django.db import models


class EngineCounter(models.Model):
    """One monotonically growing number of the engine, e.g. probes run for one type and status.

    ``name`` says which family it feeds (see ``metrics.services``); ``label`` is that family's
    one label value (monitor type, notification channel) and ``bucket`` a second key (a run's
    status, or a histogram's upper bound ``le``: counts per bucket, not cumulative).
    """

    name = models.CharField(max_length=64)
    label = models.CharField(max_length=64, blank=True, default="")
    bucket = models.CharField(max_length=32, blank=True, default="")
    value = models.FloatField(default=0)

    class Meta:
        constraints = [
            # The upsert's conflict target (metrics.services.counters_add).
            models.UniqueConstraint(
                fields=["name", "label", "bucket"], name="engine_counter_key_uniq"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}{{{self.label},{self.bucket}}} = {self.value:g}"


class WorkerHeartbeat(models.Model):
    """When a Celery worker last did work (dispatching or recording a batch)."""

    name = models.CharField(max_length=255, primary_key=True, help_text="celery@host")
    last_seen_at = models.DateTimeField()

    class Meta:
        indexes = [
            # /api/status and /metrics: the workers seen since a moment.
            models.Index(fields=["last_seen_at"], name="heartbeat_last_seen_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} seen at {self.last_seen_at:%Y-%m-%d %H:%M:%S}"
