"""Results of runs, and the current state each monitor is in."""

from __future__ import annotations

from django.db import models

from lib.status import Status
from monitors.models import Monitor


class Result(models.Model):
    """One run of one monitor, with a snapshot of the monitor's name and target at run time."""

    Status = Status

    id = models.BigAutoField(primary_key=True)
    monitor = models.ForeignKey(Monitor, on_delete=models.CASCADE, related_name="results")
    monitor_name = models.CharField(max_length=200)
    monitor_target = models.CharField(max_length=2048)
    date = models.DateTimeField(help_text="When the run started.")
    scheduled_for = models.DateTimeField(help_text="The slot the run was dispatched for.")
    status = models.PositiveSmallIntegerField(choices=Status.choices)
    value = models.FloatField(default=0)
    message = models.TextField(blank=True)
    outputs = models.JSONField(null=True, blank=True)
    duration_ms = models.FloatField(default=0, help_text="Wall time the probe took.")

    class Meta:
        ordering = ["-date", "-id"]
        indexes = [
            # A monitor's results newest first (/api/monitors/{id}/results, detail page).
            models.Index(fields=["monitor", "-date"], name="result_monitor_date_idx"),
            # The latest results across monitors (/api/results, results page).
            models.Index(fields=["-date"], name="result_date_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.monitor_name} {self.get_status_display()} at {self.date:%Y-%m-%d %H:%M:%S}"

    @property
    def schedule_lag_seconds(self) -> float:
        """How late the run started against its slot."""
        return (self.date - self.scheduled_for).total_seconds()


class MonitorState(models.Model):
    """Where a monitor stands now: its last run and its current streak of non-OK runs."""

    monitor = models.OneToOneField(
        Monitor, on_delete=models.CASCADE, primary_key=True, related_name="state"
    )
    last_status = models.PositiveSmallIntegerField(choices=Status.choices, null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_value = models.FloatField(null=True, blank=True)
    last_message = models.TextField(blank=True)
    last_outputs = models.JSONField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(
        default=0, help_text="Non-OK (Error or Failed) runs in a row since the last OK or update."
    )
    # What a remembering probe kept from its last run (a traced route, a pinned host key, a
    # log offset; a push monitor's started run): read back into its next run.
    memory = models.JSONField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "monitor state"

    def __str__(self) -> str:
        return f"state of monitor {self.monitor_id}"


class Rollup(models.Model):
    """One monitor's runs over one UTC hour or day, counted exactly (docs/rollups.md).

    Written with the results, in the same transaction (``results.rollups.rollups_add`` from
    ``loop.batches.batch_record``), so a result is counted once or not at all; rebuilt from raw
    results by ``manage.py rollups_rebuild``. The value figures cover the runs that measured a
    value (OK and Error runs); Failed runs (the probe could not measure, value 0) are counted in
    ``runs_failed`` only. Runs that started inside a maintenance window covering the monitor
    are counted by status as any other and also in ``runs_maintenance`` (the OK ones in
    ``runs_maintenance_ok``): uptime leaves them out. ``sketch`` is a log-spaced histogram of
    those values (``results.rollups``: p95 within 5 %), mergeable by adding counts.
    """

    class Resolution(models.TextChoices):
        HOUR = "hour", "Hour"
        DAY = "day", "Day"

    id = models.BigAutoField(primary_key=True)
    # No index of its own: the unique (monitor, resolution, start) index starts with it.
    monitor = models.ForeignKey(
        Monitor, on_delete=models.CASCADE, related_name="rollups", db_index=False
    )
    resolution = models.CharField(max_length=4, choices=Resolution.choices)
    start = models.DateTimeField(help_text="Start of the UTC hour or day (truncated).")
    runs_ok = models.PositiveIntegerField(default=0)
    runs_error = models.PositiveIntegerField(default=0)
    runs_failed = models.PositiveIntegerField(default=0)
    runs_maintenance = models.PositiveIntegerField(
        default=0, help_text="Runs (of any status) that started inside a maintenance window."
    )
    runs_maintenance_ok = models.PositiveIntegerField(
        default=0, help_text="The OK ones of the maintenance runs."
    )
    value_count = models.PositiveIntegerField(default=0, help_text="Runs with a value (OK, Error).")
    value_sum = models.FloatField(default=0)
    value_min = models.FloatField(null=True, blank=True)
    value_max = models.FloatField(null=True, blank=True)
    sketch = models.JSONField(default=dict, help_text="Log-spaced histogram {bucket: count}.")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["monitor", "resolution", "start"], name="rollup_monitor_resolution_start"
            )
        ]
        indexes = [
            # Retention deletes the oldest rows of each resolution.
            models.Index(fields=["resolution", "start"], name="rollup_resolution_start_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.resolution} of monitor {self.monitor_id} at {self.start:%Y-%m-%d %H:%M}"

    @property
    def runs(self) -> int:
        return self.runs_ok + self.runs_error + self.runs_failed
