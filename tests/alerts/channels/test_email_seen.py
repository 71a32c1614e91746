"""What the mails say about the outage, through a real SMTP server: the down mail says what
was seen (the run's status, message, value and the outputs the rule read), a reminder the
latest run's, and the recovery mail how long the outage lasted."""

from __future__ import annotations

from datetime import timedelta

import pytest

from alerts.configuration import alert_policy_set
from alerts.delivery import notification_deliver
from alerts.messages import rule_outputs
from alerts.models import AlertState, Notification
from alerts.sweep import alerts_sweep
from tests.alerts.conftest import email_channel
from tests.support.smtp_server import LocalSmtpServer

pytestmark = pytest.mark.django_db


def deliver_all(monitor) -> None:
    for notification in Notification.objects.filter(transition__monitor=monitor).order_by("id"):
        notification_deliver(notification.pk, now=notification.next_attempt_at)


def test_the_down_mail_says_what_was_seen_and_the_recovery_mail_how_long(make_monitor, record):
    with LocalSmtpServer() as smtp:
        email_channel(smtp)
        monitor = make_monitor(name="api", rule="status == 200 && respTime < 10")
        record(monitor, "O EEE O")  # the third E (at +90 s) goes down, the O at +120 s up

        deliver_all(monitor)

        down, up = smtp.wait_for_mails(2)
    text = down.part("text/plain").replace("\r\n", "\n")
    html = down.part("text/html")
    assert "Reason:     Rule violated: status == 200\n" in text
    assert "Status:     Error\n" in text
    assert "Value:      12.5 ms\n" in text
    assert "Rule saw:   respTime=12.5 status=200\n" in text
    assert "<td>Error</td>" in html
    assert "<code>respTime</code> = 12.5<br><code>status</code> = 200<br>" in html
    recovered = up.part("text/plain")
    assert "The outage lasted 30 s." in recovered
    assert "The outage lasted <b>30 s</b>." in up.part("text/html")
    assert "Rule saw" not in recovered


def test_a_failed_run_has_no_outputs_to_show(make_monitor, record):
    with LocalSmtpServer() as smtp:
        email_channel(smtp)
        monitor = make_monitor(name="db", rule="status == 200")
        record(monitor, "FFF")

        deliver_all(monitor)

        [mail] = smtp.wait_for_mails(1)
    text = mail.part("text/plain")
    assert "Status:     Failed" in text
    assert "Rule saw" not in text


def test_only_the_outputs_the_rule_reads_are_shown():
    outputs = {"status": 500, "respTime": 3.0, "size": 10}
    assert rule_outputs("status == 200", outputs) == {"status": 500}
    assert rule_outputs("", outputs) == {}
    assert rule_outputs("status ==", outputs) == {}
    assert rule_outputs("status == 200", None) == {}


def test_a_reminder_says_what_the_latest_run_saw(make_monitor, record):
    with LocalSmtpServer() as smtp:
        email_channel(smtp)
        monitor = make_monitor(name="web", rule="status == 200")
        alert_policy_set(monitor, reminder_minutes=10)
        record(monitor, "EEE F")  # down on an Error; the latest run Failed
        deliver_all(monitor)  # the down mail
        down_at = AlertState.objects.get(monitor=monitor).changed_at
        [reminder] = alerts_sweep(now=down_at + timedelta(minutes=10)).reminders
        notification_deliver(reminder, now=down_at + timedelta(minutes=10))

        _, mail = smtp.wait_for_mails(2)
    assert "(still down)" in mail.message["Subject"]
    text = mail.part("text/plain")
    assert "Status:     Failed" in text
    assert "Rule saw" not in text  # a failed run measured nothing
