"""The outbox: delivery queued on commit on the ``alerts`` queue, a broker down at commit, and
notifications put back to be sent again. Deliveries are real (a local HTTP receiver)."""

from __future__ import annotations

import pytest
from kombu.exceptions import OperationalError

from alerts import tasks
from alerts.delivery import notification_deliver
from alerts.outbox import enqueue_deliveries, notifications_retry
from alerts.sweep import SWEEP_GRACE, alerts_sweep
from nanomon.celery import app as celery_app
from tests.alerts.conftest import the_notification

pytestmark = pytest.mark.django_db


def test_delivery_is_queued_on_commit_and_runs_on_the_alerts_queue(
    make_monitor,
    record,
    webhook_channel,
    receiver,
    eager_celery,
    django_capture_on_commit_callbacks,
):
    monitor = make_monitor()

    with django_capture_on_commit_callbacks(execute=True):
        record(monitor, "FFF")

    assert len(receiver.wait_for(1)) == 1
    assert the_notification(monitor).status == "sent"
    router = celery_app.amqp.router
    for task in ("alerts.tasks.deliver_notification", "alerts.tasks.sweep_alerts"):
        assert router.route({}, task)["queue"].name == "alerts"
    assert "alerts" in {queue.name for queue in celery_app.conf.task_queues}


def test_a_broker_down_at_commit_loses_nothing_the_sweeper_sends_it(
    make_monitor, record, webhook_channel, receiver, monkeypatch, caplog, eager_celery
):
    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to redis:6379. Connection refused.")

    monitor = make_monitor()
    with monkeypatch.context() as patch:
        patch.setattr(tasks.deliver_notification, "apply_async", broker_down)
        record(monitor, "FFF")
        enqueue_deliveries([the_notification(monitor).pk])  # what on_commit would do
    assert "the sweeper will" in caplog.text
    assert receiver.requests == []

    report = alerts_sweep(now=the_notification(monitor).created_at + SWEEP_GRACE)

    assert report.requeued == [the_notification(monitor).pk]
    assert len(receiver.wait_for(1)) == 1
    assert the_notification(monitor).status == "sent"


def test_failed_notifications_can_be_sent_again(
    make_monitor, record, webhook_channel, receiver, alert_settings
):
    alert_settings.ALERT_DELIVERY_ATTEMPTS = 1
    receiver.fail_next = 1
    monitor = make_monitor()
    record(monitor, "FFF")
    notification = the_notification(monitor)
    due = notification.next_attempt_at  # when it was written
    assert notification_deliver(notification.pk, now=due).status == "failed"

    assert notifications_retry([notification.pk], now=due) == 1
    assert notification_deliver(notification.pk, now=due).status == "sent"
    assert len(receiver.requests) == 2
