"""Celery tasks of alerting, on the ``alerts`` queue. Thin: they take ids and call services."""

from __future__ import annotations

from celery import shared_task

from alerts.delivery import notification_deliver
from alerts.outbox import enqueue_deliveries
from alerts.retention import alert_history_retention as run_alert_history_retention
from alerts.sweep import alerts_sweep


@shared_task(ignore_result=True)
def deliver_notification(notification_id: int) -> str:
    """Deliver one notification; on failure schedule the next attempt's wake-up (the
    sweeper re-queues it too if this message is lost). Returns the notification's status."""
    outcome = notification_deliver(notification_id)
    if outcome is None:
        return "nothing to do"
    if outcome.retry_in is not None:
        enqueue_deliveries([notification_id], countdown=outcome.retry_in)
    return outcome.status


@shared_task(ignore_result=True)
def sweep_alerts() -> int:
    """Beat's periodic pass: due reminders, and notifications whose task was lost."""
    report = alerts_sweep()
    return len(report.reminders) + len(report.requeued)


@shared_task(ignore_result=True)
def alert_history_retention() -> str:
    """Beat's hourly pass (ALERT_HISTORY_RETENTION): old transitions, finished notifications
    and their attempts deleted in batches; an open outage's history is kept."""
    report = run_alert_history_retention()
    return f"{report.transitions} transitions, {report.notifications} notifications deleted"
