"""The sweeper: notifications whose task was lost, and reminders while an outage lasts.
Deliveries are real (a local HTTP receiver)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from alerts.configuration import alert_policy_set, channel_create
from alerts.delivery import notification_deliver
from alerts.models import AlertState, Notification
from alerts.sweep import alerts_sweep
from tests.alerts.conftest import the_notification

pytestmark = pytest.mark.django_db


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
