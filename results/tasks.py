"""Celery tasks of results. Thin: they call services."""

from __future__ import annotations

from celery import shared_task

from results.partitions import results_retention as run_results_retention


@shared_task(ignore_result=True)
def results_retention() -> str:
    """Beat's hourly pass (RESULTS_RETENTION): day partitions created ahead and expired ones
    dropped on PostgreSQL; expired results deleted in bounded batches on SQLite."""
    report = run_results_retention()
    return f"{len(report.created)} created, {len(report.dropped)} dropped, {report.deleted} deleted"
