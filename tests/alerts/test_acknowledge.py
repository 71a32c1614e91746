"""Acknowledging an outage (reminders stop, cleared by the recovery) and escalation (after N
minutes unacknowledged, once per outage, to the policy's escalation channels). Mails go to
real SMTP servers on loopback; times are explicit ``now`` arguments, no sleeping."""

from __future__ import annotations

from datetime import timedelta

import pytest

from alerts.acknowledge import NotDown, alert_acknowledge
from alerts.configuration import alert_policy_set
from alerts.delivery import notification_deliver
from alerts.maintenance import window_save
from alerts.models import AlertState, MaintenanceWindow, Notification
from alerts.sweep import alerts_sweep
from tests.alerts.conftest import email_channel, the_notification
from tests.support.smtp_server import LocalSmtpServer

pytestmark = pytest.mark.django_db


def standing(monitor) -> AlertState:
    return AlertState.objects.get(monitor=monitor)


def test_only_a_monitor_that_is_down_can_be_acknowledged(make_monitor, record, admin_user, clock):
    monitor = make_monitor()
    with pytest.raises(NotDown):
        alert_acknowledge(monitor.pk, user=admin_user, reason="", now=clock)
    record(monitor, "O")
    with pytest.raises(NotDown):
        alert_acknowledge(monitor.pk, user=admin_user, reason="", now=clock)


def test_an_acknowledgement_stops_reminders_and_clears_on_recovery(
    make_monitor, record, admin_user, webhook_channel
):
    monitor = make_monitor()
    alert_policy_set(monitor, reminder_minutes=10)
    after = record(monitor, "FFF")
    down_at = standing(monitor).changed_at
    notification_deliver(the_notification(monitor).pk, now=down_at)
    [first] = alerts_sweep(now=down_at + timedelta(minutes=10)).reminders
    notification_deliver(first, now=down_at + timedelta(minutes=10))

    acknowledged = alert_acknowledge(
        monitor.pk, user=admin_user, reason="on it", now=down_at + timedelta(minutes=12)
    )
    assert (acknowledged.acknowledged_by, acknowledged.acknowledged_reason) == (admin_user, "on it")
    assert alerts_sweep(now=down_at + timedelta(minutes=20)).reminders == []
    assert alerts_sweep(now=down_at + timedelta(hours=5)).reminders == []

    record(monitor, "O", start=after)  # recovery: the acknowledgement ends with the outage
    cleared = standing(monitor)
    assert (cleared.state, cleared.acknowledged_at, cleared.acknowledged_reason) == ("up", None, "")
    assert list(
        Notification.objects.filter(transition__monitor=monitor).order_by("id")
        .values_list("event", flat=True)
    ) == ["down", "reminder", "up"]  # fmt: skip

    # The next outage is not acknowledged: its reminders come again.
    record(monitor, "FFF", start=after + timedelta(minutes=1))
    again = standing(monitor)
    assert again.acknowledged_at is None
    notification_deliver(
        Notification.objects.filter(transition=again.last_transition).get().pk,
        now=again.changed_at,
    )
    assert len(alerts_sweep(now=again.changed_at + timedelta(minutes=10)).reminders) == 1


def test_escalation_fires_after_its_delay_once_per_outage_to_channels_not_told_yet(
    make_monitor, record, webhook_channel
):
    from alerts.configuration import channel_create

    pager = channel_create(
        name="pager", kind="webhook", config={"url": "http://127.0.0.1:9/pager"},
        is_default=False,
    )  # fmt: skip
    monitor = make_monitor()
    alert_policy_set(
        monitor,
        escalate_after_minutes=15,
        escalation_channels=[pager, webhook_channel],  # the default one already has it
    )
    after = record(monitor, "FFF")
    down_at = standing(monitor).changed_at

    assert alerts_sweep(now=down_at + timedelta(minutes=14)).escalated == []
    [escalated] = alerts_sweep(now=down_at + timedelta(minutes=15)).escalated
    row = Notification.objects.get(pk=escalated)
    assert (row.channel, row.event, row.transition_id) == (
        pager,
        "down",
        standing(monitor).last_transition_id,
    )
    assert alerts_sweep(now=down_at + timedelta(hours=3)).escalated == []

    # A new outage escalates again.
    record(monitor, "O", start=after)
    record(monitor, "FFF", start=after + timedelta(minutes=1))
    second = standing(monitor).changed_at
    assert len(alerts_sweep(now=second + timedelta(minutes=15)).escalated) == 1


def test_an_acknowledged_or_held_outage_is_not_escalated(
    make_monitor, record, admin_user, clock, webhook_channel
):
    acknowledged, held = make_monitor(name="acknowledged"), make_monitor(name="held")
    for monitor in (acknowledged, held):
        alert_policy_set(monitor, escalate_after_minutes=5, escalation_channels=[webhook_channel])
    window_save(
        MaintenanceWindow(name="w", starts_at=clock - timedelta(hours=1),
                          ends_at=clock + timedelta(hours=1)),
        monitors=[held.pk],
    )  # fmt: skip
    record(acknowledged, "FFF")
    record(held, "FFF")
    alert_acknowledge(acknowledged.pk, user=admin_user, reason="", now=clock)

    assert alerts_sweep(now=clock + timedelta(minutes=30)).escalated == []


def test_the_escalation_mail_reaches_its_own_server_after_the_delay(make_monitor, record):
    with LocalSmtpServer() as team, LocalSmtpServer() as manager:
        email_channel(team)
        boss = email_channel(manager, recipients=["boss@example.org"])
        boss.is_default = False
        boss.save()
        monitor = make_monitor(name="billing")
        alert_policy_set(monitor, escalate_after_minutes=30, escalation_channels=[boss])
        record(monitor, "FFF")
        down_at = standing(monitor).changed_at
        notification_deliver(the_notification(monitor).pk, now=down_at)
        team.wait_for_mails(1)

        assert alerts_sweep(now=down_at + timedelta(minutes=29)).escalated == []
        [escalation] = alerts_sweep(now=down_at + timedelta(minutes=30)).escalated
        assert notification_deliver(escalation, now=down_at + timedelta(minutes=30)).status == (
            "sent"
        )
        [mail] = manager.wait_for_mails(1)
        assert mail.message["Subject"] == "NanoMon alert for: billing"
        assert "boss@example.org" in mail.message["To"]
        assert f"/monitors/{monitor.pk}/acknowledge" in mail.part("text/plain")
        assert len(team.mails) == 1


def test_by_mail_the_acknowledge_link_then_no_more_reminders_then_the_recovery(
    make_monitor, record, admin_user
):
    with LocalSmtpServer() as smtp:
        email_channel(smtp)
        monitor = make_monitor(name="shop")
        alert_policy_set(monitor, reminder_minutes=10)
        after = record(monitor, "FFF")
        down_at = standing(monitor).changed_at
        notification_deliver(the_notification(monitor).pk, now=down_at)
        [down] = smtp.wait_for_mails(1)
        link = f"https://nanomon.example.org/monitors/{monitor.pk}/acknowledge"
        assert f"Acknowledge: {link}" in down.part("text/plain")
        assert f'href="{link}"' in down.part("text/html")
        [reminder] = alerts_sweep(now=down_at + timedelta(minutes=10)).reminders
        notification_deliver(reminder, now=down_at + timedelta(minutes=10))
        smtp.wait_for_mails(2)

        alert_acknowledge(
            monitor.pk, user=admin_user, reason="", now=down_at + timedelta(minutes=11)
        )
        for minutes in (20, 30, 120):
            assert alerts_sweep(now=down_at + timedelta(minutes=minutes)).reminders == []
        record(monitor, "O", start=after)
        notification_deliver(the_notification(monitor, "up").pk)

        mails = smtp.wait_for_mails(3)
        assert [mail.message["Subject"] for mail in mails] == [
            "NanoMon alert for: shop",
            "NanoMon alert for: shop (still down)",
            "NanoMon recovered: shop",
        ]
        assert "acknowledge" not in mails[2].part("text/plain").lower()
        assert standing(monitor).acknowledged_at is None


def test_a_held_alert_released_after_the_delay_is_escalated_in_the_same_sweep(
    make_monitor, record, clock, webhook_channel
):
    from alerts.configuration import channel_create

    pager = channel_create(
        name="pager", kind="webhook", config={"url": "http://127.0.0.1:9/p"}, is_default=False
    )
    monitor = make_monitor()
    alert_policy_set(monitor, escalate_after_minutes=5, escalation_channels=[pager])
    window_save(
        MaintenanceWindow(name="w", starts_at=clock - timedelta(hours=1),
                          ends_at=clock + timedelta(hours=1)),
        monitors=[monitor.pk],
    )  # fmt: skip
    record(monitor, "FFF")

    report = alerts_sweep(now=clock + timedelta(hours=1, seconds=1))

    assert len(report.released) == 1  # the default webhook channel
    [escalated] = report.escalated
    assert Notification.objects.get(pk=escalated).channel == pager
