"""Maintenance windows: when a monitor's down alert is held (docs/alerting.md, Maintenance).

A window is one-off (``starts_at`` … ``ends_at``) or recurring: on chosen weekdays, on chosen
days of the month, or on a cron expression (``lib.cron``), each occurrence starting at a wall
time in the window's time zone and lasting ``duration_minutes``. A recurring window may be
bounded by ``starts_at`` / ``ends_at`` (both optional). It covers the monitors chosen, or every
monitor (``all_monitors``). Which windows are active when is computed here, from the rows (no
state is stored per occurrence); ``alerts.maintenance`` applies them to alerting.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from lib.cron import Cron, parse_cron, parse_zone
from monitors.models import Monitor

# A recurring occurrence may not outlast this (a week: longer is a one-off window).
MAX_DURATION_MINUTES = 7 * 24 * 60


class MaintenanceWindow(models.Model):
    """A time when the covered monitors run and store results but open no alert."""

    class Schedule(models.TextChoices):
        ONCE = "once", "Once"
        WEEKLY = "weekly", "Weekly, on chosen weekdays"
        MONTHLY = "monthly", "Monthly, on chosen days of the month"
        CRON = "cron", "Cron expression"

    name = models.CharField(max_length=100)
    reason = models.TextField(blank=True, help_text="Why (shown on the maintenance page).")
    schedule = models.CharField(max_length=8, choices=Schedule.choices, default=Schedule.ONCE)
    starts_at = models.DateTimeField(
        null=True, blank=True, help_text="Once: the start. Recurring: not before (optional)."
    )
    ends_at = models.DateTimeField(
        null=True, blank=True, help_text="Once: the end. Recurring: not after (optional)."
    )
    weekdays = models.JSONField(
        default=list, blank=True, help_text="Weekly: ISO weekdays, 1 = Monday … 7 = Sunday."
    )
    days_of_month = models.JSONField(default=list, blank=True, help_text="Monthly: 1 … 31.")
    start_time = models.TimeField(
        null=True, blank=True, help_text="Weekly and monthly: the wall time each one starts."
    )
    cron = models.CharField(
        max_length=100, blank=True, help_text="Cron: when each one starts (five fields)."
    )
    duration_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_DURATION_MINUTES)],
        help_text="Recurring: how long each one lasts.",
    )
    time_zone = models.CharField(
        max_length=64, default="UTC", help_text="IANA name (Europe/Berlin) of the wall times."
    )
    all_monitors = models.BooleanField(
        default=False, help_text="Covers every monitor (else the monitors chosen)."
    )
    monitors = models.ManyToManyField(Monitor, blank=True, related_name="maintenance_windows")
    # And the monitors with any of these tags (monitors.tags), whenever they got them.
    tags = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    # --- validation -------------------------------------------------------------------------

    def clean(self) -> None:
        errors: dict[str, str] = {}
        try:
            parse_zone(self.time_zone or "")
        except ValueError as error:
            errors["time_zone"] = str(error)
        if self.schedule == self.Schedule.ONCE:
            if self.starts_at is None:
                errors["starts_at"] = "a one-off window needs a start"
            if self.ends_at is None:
                errors["ends_at"] = "a one-off window needs an end"
        else:
            if not self.duration_minutes:
                errors["duration_minutes"] = "a recurring window needs a duration"
            errors.update(self._recurrence_errors())
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            errors["ends_at"] = "must be after the start"
        if errors:
            raise ValidationError(errors)

    def _recurrence_errors(self) -> dict[str, str]:
        if self.schedule == self.Schedule.WEEKLY and not _numbers_in(self.weekdays, 1, 7):
            return {"weekdays": "choose at least one weekday (1 = Monday … 7 = Sunday)"}
        if self.schedule == self.Schedule.MONTHLY and not _numbers_in(self.days_of_month, 1, 31):
            return {"days_of_month": "choose at least one day of the month (1 … 31)"}
        if self.schedule in (self.Schedule.WEEKLY, self.Schedule.MONTHLY):
            return {} if self.start_time else {"start_time": "needs a start time"}
        try:
            parse_cron(self.cron or "")
        except ValueError as error:
            return {"cron": str(error)}
        return {}

    # --- when -------------------------------------------------------------------------------

    def zone(self) -> ZoneInfo:
        return parse_zone(self.time_zone or "UTC")

    def cron_expression(self) -> str:
        """The recurring schedule as a cron expression (weekly and monthly become one)."""
        if self.schedule == self.Schedule.CRON:
            return self.cron
        at = self.start_time or time(0, 0)
        if self.schedule == self.Schedule.WEEKLY:
            days = ",".join(str(day) for day in sorted(self.weekdays))
            return f"{at.minute} {at.hour} * * {days}"
        days = ",".join(str(day) for day in sorted(self.days_of_month))
        return f"{at.minute} {at.hour} {days} * *"

    def _parsed(self) -> Cron:
        return parse_cron(self.cron_expression())

    def occurrence_at(self, moment: datetime) -> tuple[datetime, datetime] | None:
        """The (start, end) of the occurrence covering ``moment`` (aware), or None."""
        if self.starts_at and moment < self.starts_at:
            return None
        if self.ends_at and moment >= self.ends_at:
            return None
        if self.schedule == self.Schedule.ONCE:
            if self.starts_at is None or self.ends_at is None:
                return None
            return self.starts_at, self.ends_at
        duration = timedelta(minutes=self.duration_minutes or 0)
        # The first start after (moment - duration): it covers moment if it is not after it.
        start = self._parsed().next_after(moment - duration, self.zone())
        if start > moment:
            return None
        end = start + duration
        if self.ends_at:
            end = min(end, self.ends_at)
        return start, end

    def is_active(self, moment: datetime) -> bool:
        return self.occurrence_at(moment) is not None

    def next_start(self, moment: datetime) -> datetime | None:
        """When the next occurrence starting after ``moment`` begins (None: never again)."""
        if self.schedule == self.Schedule.ONCE:
            return self.starts_at if self.starts_at and self.starts_at > moment else None
        after = (
            max(moment, self.starts_at - timedelta(microseconds=1)) if self.starts_at else moment
        )
        try:
            start = self._parsed().next_after(after, self.zone())
        except ValueError:
            return None
        if self.ends_at and start >= self.ends_at:
            return None
        return start


def _numbers_in(values: object, low: int, high: int) -> bool:
    return (
        isinstance(values, list)
        and bool(values)
        and all(isinstance(v, int) and not isinstance(v, bool) and low <= v <= high for v in values)
    )
