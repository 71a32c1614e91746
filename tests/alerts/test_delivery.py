"""Delivery: claiming, sending once, retries with backoff, cancelling, and what happens when
workers die. Deliveries are real (a local HTTP receiver, a local SMTP server)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from django.db import connection

from alerts import tasks
from alerts.channels.webhook import WebhookTransport
from alerts.configuration import alert_policy_set, channel_create, channel_delete, channel_update
from alerts.delivery import channel_send_test, delivery_lease, notification_deliver, retry_delay
from alerts.models import AlertState, Channel, DeliveryAttempt, Notification
from alerts.selectors import channel_health, channels_failing
from alerts.sweep import alerts_sweep
from monitors.services import monitor_update
from tests.alerts.conftest import email_channel, the_notification
from tests.support.http_servers import refused_port
from tests.support.receivers import WebhookReceiver
from tests.support.smtp_server import LocalSmtpServer

pytestmark = pytest.mark.django_db


def retry_after(notification: Notification) -> tuple[timedelta, datetime]:
    """How long after its last attempt finished the next attempt is due, and when that is."""
    notification.refresh_from_db()
    last = DeliveryAttempt.objects.filter(notification=notification).latest("number")
    return notification.next_attempt_at - last.finished_at, notification.next_attempt_at


def test_a_due_notification_is_sent_once_and_its_attempt_recorded(
    make_monitor, record, webhook_channel, receiver
):
    monitor = make_monitor(target="http://127.0.0.1:9/a b")
    record(monitor, "FFF")
    notification = the_notification(monitor)

    outcome = notification_deliver(notification.pk)

    assert outcome.succeeded
    [request] = receiver.wait_for(1)
    assert request.query == {"host": "http://127.0.0.1:9/a b", "state": "down"}
    notification.refresh_from_db()
    assert (notification.status, notification.attempts) == ("sent", 1)
    [attempt] = DeliveryAttempt.objects.filter(notification=notification)
    assert (attempt.number, attempt.succeeded, attempt.error) == (1, True, "")
    assert channel_health(Channel.objects.get(pk=webhook_channel.pk)).state == "ok"


def test_a_task_delivered_twice_sends_once(make_monitor, record, webhook_channel, receiver):
    monitor = make_monitor()
    record(monitor, "FFF")
    notification = the_notification(monitor)

    first = tasks.deliver_notification(notification.pk)
    second = tasks.deliver_notification(notification.pk)

    assert (first, second) == ("sent", "nothing to do")
    assert len(receiver.requests) == 1


@pytest.mark.django_db(transaction=True)
def test_two_workers_racing_for_one_notification_send_it_once(make_monitor, record):
    with WebhookReceiver(delay=0.3) as slow:
        channel_create(name="slow", kind="webhook", config={"url": slow.url()})
        monitor = make_monitor()
        record(monitor, "FFF")
        notification = the_notification(monitor)
        outcomes = []
        start = threading.Barrier(4)

        def worker():
            start.wait()
            try:
                outcomes.append(notification_deliver(notification.pk))
            finally:
                connection.close()

        threads = [threading.Thread(target=worker) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert sorted(outcome is None for outcome in outcomes) == [False, True, True, True]
        assert len(slow.requests) == 1


def test_a_failing_receiver_is_retried_with_exponential_backoff_then_delivered_once(
    make_monitor, record, webhook_channel, receiver
):
    receiver.fail_next = 2
    monitor = make_monitor()
    record(monitor, "FFF")
    notification = the_notification(monitor)
    due = notification.next_attempt_at  # when it was written

    first = notification_deliver(notification.pk, now=due)
    assert (first.status, first.error, first.retry_in) == (
        "pending",
        "HTTP 500: receiver says no",
        30,
    )
    delay, due = retry_after(notification)
    assert delay == timedelta(seconds=30)
    assert notification_deliver(notification.pk, now=due - timedelta(seconds=1)) is None
    assert channel_health(Channel.objects.get(pk=webhook_channel.pk)).state == "failing"

    second = notification_deliver(notification.pk, now=due)
    assert (second.status, second.retry_in) == ("pending", 60)
    delay, due = retry_after(notification)
    assert delay == timedelta(seconds=60)
    third = notification_deliver(notification.pk, now=due)
    assert third.status == "sent"

    assert len(receiver.requests) == 3
    attempts = DeliveryAttempt.objects.filter(notification=notification).order_by("number")
    assert [(a.number, a.succeeded) for a in attempts] == [(1, False), (2, False), (3, True)]
    assert channel_health(Channel.objects.get(pk=webhook_channel.pk)).state == "ok"
    assert notification_deliver(notification.pk, now=due + timedelta(hours=5)) is None


def test_backoff_doubles_from_alert_retry_base_up_to_an_hour(alert_settings):
    alert_settings.ALERT_RETRY_BASE_SECONDS = 30
    delays = [retry_delay(attempt).total_seconds() for attempt in range(1, 10)]
    assert delays == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]


def test_a_notification_gives_up_after_the_last_attempt_and_its_channel_shows_failing(
    make_monitor, record, alert_settings
):
    alert_settings.ALERT_DELIVERY_ATTEMPTS = 2
    dead = channel_create(
        name="dead", kind="webhook", config={"url": f"http://127.0.0.1:{refused_port()}/"}
    )
    monitor = make_monitor()
    record(monitor, "FFF")
    notification = the_notification(monitor)
    due = notification.next_attempt_at  # when it was written

    notification_deliver(notification.pk, now=due)
    last = notification_deliver(notification.pk, now=due + timedelta(minutes=5))

    assert (last.status, last.error, last.retry_in) == ("failed", "connection refused", None)
    assert list(channels_failing()) == [dead]
    dead.refresh_from_db()
    assert (dead.failures_in_row, dead.last_error) == (2, "connection refused")


def test_smtp_down_for_the_first_attempts_then_up_delivers_exactly_once(make_monitor, record):
    smtp = LocalSmtpServer(start=False)  # its port refuses connections: the server is down
    email_channel(smtp)
    monitor = make_monitor()
    record(monitor, "FFF")
    notification = the_notification(monitor)
    due = notification.next_attempt_at  # when it was written
    try:
        assert notification_deliver(notification.pk, now=due).error == "connection refused"
        _, due = retry_after(notification)
        assert notification_deliver(notification.pk, now=due).error == "connection refused"
        _, due = retry_after(notification)

        smtp.start()
        sent = notification_deliver(notification.pk, now=due)
        alerts_sweep(now=due + timedelta(hours=2))
        assert notification_deliver(notification.pk, now=due + timedelta(hours=2)) is None

        assert sent.status == "sent"
        [mail] = smtp.wait_for_mails(1)
        assert mail.message["Subject"] == f"NanoMon alert for: {monitor.name}"
        assert len(smtp.mails) == 1
        assert DeliveryAttempt.objects.filter(notification=notification).count() == 3
    finally:
        smtp.stop()


def test_a_worker_killed_after_sending_but_before_recording_sends_again_at_least_once(
    make_monitor, record, monkeypatch
):
    """Documented at-least-once: the claim expires, the sweeper re-queues, the mail goes out
    a second time with the same Message-ID (so mail clients can fold the two)."""
    with LocalSmtpServer() as smtp:
        email_channel(smtp)
        monitor = make_monitor()
        record(monitor, "FFF")
        notification = the_notification(monitor)
        due = notification.next_attempt_at  # when it was written

        def killed(**fields):
            raise SystemExit("worker killed")

        with monkeypatch.context() as patch:
            patch.setattr(DeliveryAttempt.objects, "create", killed)
            with pytest.raises(SystemExit):
                notification_deliver(notification.pk, now=due)
        smtp.wait_for_mails(1)
        notification.refresh_from_db()
        assert notification.status == "sending"

        # While the lease holds, nobody sends it again: not a duplicate task, not the sweeper.
        assert notification_deliver(notification.pk, now=due + timedelta(seconds=5)) is None
        assert alerts_sweep(now=due + timedelta(seconds=30)).requeued == []

        after_lease = due + delivery_lease(2.0) + timedelta(seconds=1)
        assert alerts_sweep(now=after_lease).requeued == [notification.pk]
        assert notification_deliver(notification.pk, now=after_lease).status == "sent"

        first, second = smtp.wait_for_mails(2)
        assert first.message["Message-ID"] == second.message["Message-ID"]
        assert notification_deliver(notification.pk, now=after_lease + timedelta(hours=1)) is None
        assert len(smtp.mails) == 2


def test_a_disabled_monitor_sends_nothing_not_even_reminders(
    make_monitor, record, webhook_channel, receiver
):
    monitor = make_monitor()
    alert_policy_set(monitor, reminder_minutes=1)
    record(monitor, "FFF")
    notification = the_notification(monitor)
    down_at = AlertState.objects.get(monitor=monitor).changed_at

    monitor_update(
        monitor, name=monitor.name, kind=monitor.kind, target=monitor.target,
        interval=monitor.interval, rule="", enabled=False, properties={},
    )  # fmt: skip

    outcome = notification_deliver(notification.pk)
    assert (outcome.status, outcome.error) == ("cancelled", "monitor disabled")
    assert alerts_sweep(now=down_at + timedelta(hours=1)).reminders == []
    assert receiver.requests == []


def test_a_notification_for_a_channel_disabled_meanwhile_is_cancelled(
    make_monitor, record, webhook_channel, receiver
):
    monitor = make_monitor()
    record(monitor, "FFF")
    channel_update(webhook_channel, enabled=False)

    outcome = notification_deliver(the_notification(monitor).pk)

    assert (outcome.status, outcome.error) == ("cancelled", "channel disabled")
    assert receiver.requests == []


def test_a_test_notification_is_sent_at_once_and_recorded_without_retries(receiver):
    good = channel_create(name="good", kind="webhook", config={"url": receiver.url("/t?s={STATE}")})
    bad = channel_create(
        name="bad", kind="webhook", config={"url": f"http://127.0.0.1:{refused_port()}/"}
    )

    ok, failed = channel_send_test(good), channel_send_test(bad)

    assert (ok.succeeded, ok.status) == (True, "sent")
    assert (failed.succeeded, failed.status, failed.error) == (
        False,
        "failed",
        "connection refused",
    )
    assert receiver.wait_for(1)[0].query == {"s": "test"}
    assert Notification.objects.get(pk=failed.notification_id).event == "test"
    assert list(channels_failing()) == [bad]


@pytest.mark.django_db(transaction=True)
def test_a_channel_deleted_while_sending_is_no_error(make_monitor, record, monkeypatch, receiver):
    channel = channel_create(name="short-lived", kind="webhook", config={"url": receiver.url()})
    monitor = make_monitor()
    record(monitor, "FFF")
    notification = the_notification(monitor)

    def send_then_lose_the_channel(self, message, *, timeout):
        channel_delete(Channel.objects.get(pk=channel.pk))  # another user, meanwhile

    monkeypatch.setattr(WebhookTransport, "send", send_then_lose_the_channel)
    outcome = notification_deliver(notification.pk)

    assert outcome.succeeded
    assert not Notification.objects.filter(pk=notification.pk).exists()
    assert not DeliveryAttempt.objects.exists()
