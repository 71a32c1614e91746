"""Celery tasks of the metrics app. Thin: they call the summary."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from metrics.summary import log_activity_summary


@shared_task(ignore_result=True)
def log_summary(window_seconds: float = 60.0) -> int:
    """Beat's periodic one-line summary of the monitoring loop (NANOMON_SUMMARY_INTERVAL).
    Returns the runs counted."""
    summary = log_activity_summary(now=timezone.now(), window=timedelta(seconds=window_seconds))
    return summary.runs
