"""The outbox: claiming, sending once, retries with backoff, the sweeper, reminders, and what
happens when workers die or the broker is down. Deliveries are real (a local HTTP receiver,
a local SMTP server)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from kombu.exceptions import OperationalError

from alerts import tasks
from alerts.channels.webhook import WebhookTransport
from alerts.models import AlertState, Channel, DeliveryAttempt, Notification
from alerts.selectors import channel_health, channels_failing
from alerts.services import (
    SWEEP_GRACE,
    alert_policy_set,
    alerts_sweep,
    channel_create,
    channel_delete,
    channel_send_test,
    channel_update,
    delivery_lease,
    enqueue_deliveries,
    notification_deliver,
    notifications_retry,
    retry_delay,
)
from monitors.services import monitor_update
from nanomon.celery import app as celery_app
from tests.alerts.conftest import email_channel
from tests.support.http_servers import refused_port
from tests.support.receivers import WebhookReceiver
from tests.support.smtp_server import LocalSmtpServer

pytestmark = pytest.mark.django_db


def the_notification(monitor, event="down") -> Notification:
    return Notification.objects.get(transition__monitor=monitor, event=event)


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


def test_the_sweeper_leaves_fresh_and_finished_notifications_alone(
    make_monitor, record, webhook_channel
):
    fresh, done = make_monitor(name="fresh"), make_monitor(name="done")
    record(fresh, "FFF")
    record(done, "FFF")
    notification_deliver(the_notification(done).pk)

    report = alerts_sweep(now=the_notification(fresh).created_at + timedelta(seconds=1))

    assert report.requeued == []


def test_a_restart_never_resends_an_alert_already_sent(
    make_monitor, record, webhook_channel, receiver
):
    monitor = make_monitor()
    after = record(monitor, "FFF")
    notification_deliver(the_notification(monitor).pk)

    # A restart keeps nothing in memory: the state lives in the database. The monitor keeps
    # failing afterwards and the sweeper runs.
    record(monitor, "FFFFFF", start=after)
    report = alerts_sweep(now=after + timedelta(hours=3))

    assert report.requeued == []
    assert report.reminders == []
    assert Notification.objects.filter(transition__monitor=monitor).count() == 1
    assert len(receiver.requests) == 1


def test_reminders_repeat_every_n_minutes_while_down_and_stop_on_recovery(
    make_monitor, record, webhook_channel
):
    monitor = make_monitor()
    alert_policy_set(monitor, reminder_minutes=10)
    after = record(monitor, "FFF")
    notification_deliver(the_notification(monitor).pk)
    down_at = AlertState.objects.get(monitor=monitor).changed_at

    assert alerts_sweep(now=down_at + timedelta(minutes=9)).reminders == []
    [first] = alerts_sweep(now=down_at + timedelta(minutes=10)).reminders
    assert alerts_sweep(now=down_at + timedelta(minutes=10)).reminders == []
    notification_deliver(first, now=down_at + timedelta(minutes=10))
    [second] = alerts_sweep(now=down_at + timedelta(minutes=20)).reminders
    reminders = Notification.objects.filter(pk__in=[first, second]).order_by("sequence")
    assert [(n.event, n.sequence) for n in reminders] == [("reminder", 1), ("reminder", 2)]

    record(monitor, "O", start=after)
    assert alerts_sweep(now=down_at + timedelta(hours=5)).reminders == []
    # The second reminder, still waiting when the monitor recovered, is not sent.
    assert notification_deliver(second, now=down_at + timedelta(hours=5)).status == "cancelled"
    assert events_sent(monitor) == ["down", "reminder"]


def events_sent(monitor) -> list[str]:
    return list(
        Notification.objects.filter(transition__monitor=monitor, status="sent")
        .order_by("id")
        .values_list("event", flat=True)
    )


def test_alert_reminder_minutes_is_the_default_and_zero_turns_reminders_off(
    make_monitor, record, webhook_channel, alert_settings
):
    alert_settings.ALERT_REMINDER_MINUTES = 5
    reminded, quiet = make_monitor(name="reminded"), make_monitor(name="quiet")
    alert_policy_set(quiet, reminder_minutes=0)
    record(reminded, "FFF")
    record(quiet, "FFF")
    Notification.objects.update(status="sent")
    down_at = AlertState.objects.get(monitor=reminded).changed_at

    created = alerts_sweep(now=down_at + timedelta(minutes=6)).reminders

    assert [Notification.objects.get(pk=pk).transition.monitor for pk in created] == [reminded]


def test_one_sweep_reminds_every_due_outage_on_its_channels_in_a_fixed_number_of_queries(
    make_monitor, record, webhook_channel, receiver
):
    own = channel_create(
        name="own", kind="webhook", config={"url": receiver.url("/own")}, is_default=False
    )

    def sweep_due_outages(count: int) -> tuple[dict[str, list[int]], int]:
        """``count`` outages on the defaults and ``count`` on ``own``, all due at once: the
        channels each reminder went to, and the sweep's queries."""
        on_defaults = [make_monitor(name=f"default {count}.{n}") for n in range(count)]
        on_own = [make_monitor(name=f"own {count}.{n}") for n in range(count)]
        for monitor in on_defaults:
            alert_policy_set(monitor, reminder_minutes=10)
        for monitor in on_own:
            alert_policy_set(
                monitor, reminder_minutes=10, use_default_channels=False, channels=[own]
            )
        for monitor in on_defaults + on_own:
            record(monitor, "FFF")
        Notification.objects.update(status="sent")
        down_at = max(AlertState.objects.values_list("changed_at", flat=True))
        with CaptureQueriesContext(connection) as queries:
            created = alerts_sweep(now=down_at + timedelta(minutes=10)).reminders
        reminded = Notification.objects.filter(pk__in=created).select_related("transition")
        by_channel: dict[str, list[int]] = {}
        for reminder in reminded.order_by("transition__monitor_id"):
            assert (reminder.event, reminder.sequence) == ("reminder", 1)
            by_channel.setdefault(reminder.channel.name, []).append(reminder.transition.monitor_id)
        assert by_channel == {
            "hook": [monitor.pk for monitor in on_defaults],
            "own": [monitor.pk for monitor in on_own],
        }
        AlertState.objects.update(state="up")  # these outages are over: out of the next sweep
        return by_channel, len(queries)

    _, one_each = sweep_due_outages(1)
    _, three_each = sweep_due_outages(3)
    # Only the per-outage claim (a conditional update) grows with the number of outages.
    assert three_each - one_each == 4


def test_a_channel_still_retrying_gets_no_pile_of_reminders(make_monitor, record, webhook_channel):
    monitor = make_monitor()
    alert_policy_set(monitor, reminder_minutes=1)
    record(monitor, "FFF")  # its down notification is still pending
    down_at = AlertState.objects.get(monitor=monitor).changed_at

    assert alerts_sweep(now=down_at + timedelta(minutes=30)).reminders == []


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
