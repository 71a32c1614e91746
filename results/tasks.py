"""Celery tasks of results. Thin: they call services."""

from __future__ import annotations

from celery import shared_task

from results.partitions import results_retention as run_results_retention
from results.rollups import rollups_delete_old


@shared_task(ignore_result=True)
def results_retention() -> str:
    """Beat's hourly pass (RESULTS_RETENTION): day partitions created ahead and expired ones
    dropped on PostgreSQL; expired results deleted in bounded batches on SQLite; then expired
    rollup rows (ROLLUP_RETENTION, ROLLUP_HOURLY_RETENTION) deleted in batches."""
    report = run_results_retention()
    rollups = rollups_delete_old()
    return (
        f"{len(report.created)} created, {len(report.dropped)} dropped, {report.deleted} deleted, "
        f"{rollups} rollup rows deleted"
    )
