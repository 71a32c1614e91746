"""Notifications never carry a target's credentials (user info, ``?token=``) nor the http
``body``: email, webhook placeholders and payload, reminders and Apprise show them masked,
whoever may read the channel's destination."""

from __future__ import annotations

from datetime import timedelta

import pytest

from alerts.configuration import alert_policy_set, channel_create
from alerts.delivery import notification_deliver
from alerts.models import AlertState, Notification
from alerts.sweep import alerts_sweep
from monitors.secrets import MASK
from tests.alerts.conftest import email_channel
from tests.support.smtp_server import LocalSmtpServer

pytestmark = pytest.mark.django_db

TARGET = "https://bot:pa55@127.0.0.1:9/send?chat=7&token=t0k3n"
MASKED = f"https://{MASK}@127.0.0.1:9/send?chat=7&token={MASK}"
SECRETS = ("pa55", "t0k3n", "hunter2")


@pytest.fixture
def private(make_monitor):
    return make_monitor(
        name="private", target=TARGET, properties={"method": "POST", "body": "pw=hunter2"}
    )


def deliver_all(monitor, *, event: str | None = None) -> None:
    notifications = Notification.objects.filter(transition__monitor=monitor)
    if event:
        notifications = notifications.filter(event=event)
    for notification in notifications.order_by("id"):
        notification_deliver(notification.pk, now=notification.next_attempt_at)


def no_secret_in(text: str) -> bool:
    return not [secret for secret in SECRETS if secret in text]


def test_webhook_placeholders_and_the_default_payload_hold_the_masked_target(
    private, record, receiver
):
    channel_create(name="get", kind="webhook", config={"url": receiver.url("/g?host={HOST}")})
    channel_create(
        name="post", kind="webhook", config={"url": receiver.url("/p"), "method": "POST"}
    )
    channel_create(
        name="template",
        kind="webhook",
        config={"url": receiver.url("/t"), "method": "POST", "body": '{"h": "{HOST}"}'},
    )
    record(private, "FFF")

    deliver_all(private)

    received = {request.path: request for request in receiver.wait_for(3)}
    assert received["/g"].query == {"host": MASKED}
    payload = received["/p"].json()
    assert payload["monitor"]["target"] == MASKED
    assert payload["monitor"]["properties"] == {"method": "POST", "body": MASK}
    assert received["/t"].json() == {"h": MASKED}
    for request in received.values():
        assert no_secret_in(request.raw_query + request.body.decode())


def test_reminders_describe_the_monitor_as_it_is_with_the_target_masked(private, record, receiver):
    channel_create(
        name="post", kind="webhook", config={"url": receiver.url("/p"), "method": "POST"}
    )
    alert_policy_set(private, reminder_minutes=10)
    record(private, "FFF")
    deliver_all(private, event="down")
    down_at = AlertState.objects.get(monitor=private).changed_at
    [reminder] = alerts_sweep(now=down_at + timedelta(minutes=10)).reminders

    notification_deliver(reminder, now=down_at + timedelta(minutes=10))

    down, again = receiver.wait_for(2)
    assert again.json()["event"] == "reminder"
    assert again.json()["monitor"]["target"] == MASKED
    assert no_secret_in(down.body.decode() + again.body.decode())


def test_an_alert_email_shows_the_target_masked(private, record):
    with LocalSmtpServer() as smtp:
        email_channel(smtp)
        record(private, "FFF")

        deliver_all(private)

        [mail] = smtp.wait_for_mails(1)
    text = mail.message.get_body(("plain",)).get_content()
    html = mail.message.get_body(("html",)).get_content()
    assert MASKED in text
    assert MASKED.replace("&", "&amp;") in html
    assert no_secret_in(mail.message.as_string())


def test_apprise_messages_hold_no_secret(private, record, receiver):
    channel_create(
        name="apprise", kind="apprise", config={"urls": [f"json://{receiver.address}/apprise"]}
    )
    record(private, "FFF")

    deliver_all(private)

    [request] = receiver.wait_for(1)
    assert request.json()["title"] == "NanoMon alert for: private"
    assert no_secret_in(request.body.decode())
