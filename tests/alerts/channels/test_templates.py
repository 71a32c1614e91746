"""Message templates per channel (``${name}`` placeholders): each event rendered through a
real SMTP server, a real webhook receiver and Apprise; hostile templates refused when saved
and inert when rendered; no template keeps NanoMon's messages; gosrvmon's placeholders stay."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError

from alerts.channels.templating import (
    FIELDS,
    MAX_BODY,
    MAX_SUBJECT,
    TemplateError,
    check_template,
    render_template,
    template_values,
)
from alerts.configuration import alert_policy_set, channel_create
from alerts.delivery import channel_send_test, notification_deliver
from alerts.models import AlertState, Channel, Notification
from alerts.previews import sample_message
from alerts.sweep import alerts_sweep
from tests.alerts.conftest import email_channel
from tests.support.receivers import WebhookReceiver
from tests.support.smtp_server import LocalSmtpServer

pytestmark = pytest.mark.django_db

SUBJECT = "[${state}] ${name} (${event})"
BODY = (
    "${headline}\n${summary}\nstatus=${status} value=${value} outputs=${outputs}\n"
    "message=${message}\nsince=${since} lasted=${duration} reminder=${reminder}\n"
    "target=${target} link=${link} ack=${acknowledge_link}\ncost: $5 literal $${name}"
)


def deliver_all(monitor) -> None:
    for notification in Notification.objects.filter(transition__monitor=monitor).order_by("id"):
        notification_deliver(notification.pk, now=notification.next_attempt_at)


def test_every_event_is_rendered_in_a_real_mail(make_monitor, record):
    with LocalSmtpServer() as smtp:
        channel = email_channel(smtp, subject_template=SUBJECT, body_template=BODY)
        monitor = make_monitor(
            name="api", rule="status == 200 && respTime < 10", target="https://u:pw@x.test/a"
        )
        alert_policy_set(monitor, reminder_minutes=10)
        record(monitor, "O EEE")
        deliver_all(monitor)
        down_at = AlertState.objects.get(monitor=monitor).changed_at
        [reminder] = alerts_sweep(now=down_at + timedelta(minutes=10)).reminders
        notification_deliver(reminder, now=down_at + timedelta(minutes=10))
        record(monitor, "O", start=down_at + timedelta(seconds=30))
        deliver_all(monitor)
        assert channel_send_test(channel).succeeded
        down, again, up, test = smtp.wait_for_mails(4)

    assert down.message["Subject"] == "[down] api (down)"
    assert again.message["Subject"] == "[down] api (reminder)"
    assert up.message["Subject"] == "[up] api (up)"
    assert test.message["Subject"] == "[test] NanoMon test (test)"
    text = down.part("text/plain").replace("\r\n", "\n")
    assert text.startswith("NanoMon alert for: api\napi is DOWN: 3 failed runs in a row.")
    assert "status=Error value=12.5 ms outputs=respTime=12.5 status=200\n" in text
    assert "message=Rule violated: status == 200\n" in text
    assert "target=https://••••••@x.test/a link=" in text
    assert f"link=https://nanomon.example.org/monitors/{monitor.pk} ack=" in text
    assert f"/monitors/{monitor.pk}/acknowledge\n" in text
    assert text.rstrip().endswith("cost: $5 literal ${name}")
    with pytest.raises(LookupError):  # a templated body is sent as plain text only
        down.part("text/html")
    assert "reminder=1\n" in again.part("text/plain").replace("\r\n", "\n")
    recovered = up.part("text/plain").replace("\r\n", "\n")
    assert re.search(
        r"since=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC lasted=\d[^\n]* reminder=0", recovered
    )
    assert "ack=\n" in recovered  # nothing to acknowledge on a recovery
    assert "This is a test notification from NanoMon" in test.part("text/plain")


def test_without_templates_the_mails_are_nanomons(make_monitor, record):
    with LocalSmtpServer() as smtp:
        email_channel(smtp, subject_template="", body_template="  ")
        monitor = make_monitor(name="api")
        record(monitor, "EEE")
        deliver_all(monitor)
        [mail] = smtp.wait_for_mails(1)
    assert mail.message["Subject"] == "NanoMon alert for: api"
    assert "The monitor 'api' has failed 3 times in a row." in mail.part("text/plain")
    assert "<h2" in mail.part("text/html")


def test_a_webhook_gets_the_templates_and_gosrvmons_placeholders_still_work(make_monitor, record):
    with WebhookReceiver() as receiver:
        channel_create(
            name="slack-like",
            kind="webhook",
            config={
                "url": receiver.url("/gosrvmon?host={HOST}&state={STATE}&m={MESSAGE}"),
                "method": "POST",
                "body": '{"text": "{MESSAGE}", "title": "{SUBJECT}", "name": "{NAME}"}',
                "subject_template": "${name} is ${state}",
                "body_template": 'He said "${message}"\n${value}',
            },
        )
        channel_create(
            name="default payload",
            kind="webhook",
            config={"url": receiver.url("/payload"), "method": "POST", **TEMPLATES},
        )
        channel_create(
            name="plain", kind="webhook", config={"url": receiver.url("/plain"), "method": "POST"}
        )
        monitor = make_monitor(name="db", target="http://db:5432/")
        record(monitor, "EEE")
        deliver_all(monitor)
        requests = {request.path: request for request in receiver.wait_for(3)}
    templated = requests["/gosrvmon"]
    assert templated.query == {
        "host": "http://db:5432/",
        "state": "down",
        "m": 'He said "Rule violated: status == 200"\n12.5 ms',
    }
    assert templated.json() == {
        "text": 'He said "Rule violated: status == 200"\n12.5 ms',
        "title": "db is down",
        "name": "db",
    }
    payload = requests["/payload"].json()
    assert (payload["title"], payload["text"]) == (
        "db: down",
        "db is DOWN: 3 failed runs in a row. Reason: Rule violated: status == 200 (Error)",
    )
    assert payload["monitor"]["name"] == "db"
    plain = requests["/plain"].json()
    assert "title" not in plain
    assert plain["text"].startswith("db is DOWN: 3 failed runs in a row.")


TEMPLATES = {"subject_template": "${name}: ${state}", "body_template": "${summary} (${status})"}


def test_apprise_gets_the_title_and_body(make_monitor, record):
    with WebhookReceiver() as receiver:
        channel_create(
            name="chat",
            kind="apprise",
            config={"urls": [f"json://{receiver.address}/chat"], **TEMPLATES},
        )
        monitor = make_monitor(name="cache")
        record(monitor, "EEE O")
        deliver_all(monitor)
        down, up = receiver.wait_for(2)
    assert (down.json()["title"], down.json()["message"]) == (
        "cache: down",
        "cache is DOWN: 3 failed runs in a row. Reason: Rule violated: status == 200 (Error)",
    )
    assert (up.json()["title"], up.json()["message"]) == ("cache: up", "cache is UP again. ()")


HOSTILE = [
    ("{{ settings.SECRET_KEY }}", "is not template syntax here"),
    ("{% load static %}", "is not template syntax here"),
    ("{% include 'x.html' %}", "is not template syntax here"),
    ("{% for a in name %}{% for b in name %}x{% endfor %}{% endfor %}", "not template syntax"),
    ("{# comment #}", "not template syntax"),
    ("${settings}", "unknown placeholder ${settings}"),
    ("${__class__}", "unknown placeholder ${__class__}"),
    ("${name.__class__.__mro__}", "malformed placeholder at character 1"),
    ("${name[0]}", "malformed placeholder"),
    ("${name", "malformed placeholder"),
    ("x" * 5001, "at most 5000 characters"),
]


@pytest.mark.parametrize(("template", "reason"), HOSTILE)
def test_hostile_templates_are_refused_when_saved(template, reason):
    with pytest.raises(TemplateError, match=re.escape(reason)):
        check_template(template)
    with pytest.raises(ValidationError) as refused:
        channel_create(
            name="bad",
            kind="apprise",
            config={"urls": ["json://127.0.0.1:9/x"], "body_template": template},
        )
    assert reason in refused.value.message_dict["body_template"][0]
    assert not Channel.objects.filter(name="bad").exists()


def test_a_subject_template_is_one_line():
    with pytest.raises(ValidationError) as refused:
        channel_create(
            name="bad",
            kind="webhook",
            config={"url": "http://127.0.0.1:9/", "subject_template": "a\n${name}"},
        )
    assert refused.value.message_dict == {"subject_template": ["a subject is one line"]}


def test_a_hostile_template_stored_unchecked_renders_as_inert_text(clock):
    values = template_values(sample_message("down", now=clock))
    django = "{{ settings.SECRET_KEY }}{% load x %}${name.__class__}${nope}"
    assert render_template(django, values) == django  # nothing evaluated, nothing read
    # Every placeholder repeated: one pass, each value at most 1000 characters, output cut.
    huge = "${summary}${properties}${outputs}" * 1000
    rendered = render_template(huge, values)
    assert len(rendered) == MAX_BODY
    subject = render_template("${summary}\r\n" * 40, values, one_line=True)
    assert len(subject) == MAX_SUBJECT
    assert "\n" not in subject
    # A value that looks like a placeholder is never read again as one.
    sneaky = template_values(sample_message("down", now=clock)) | {"name": "${link}"}
    assert render_template("${name}", sneaky) == "${link}"


def test_every_field_has_a_value_for_every_event(clock):
    for event in ("down", "reminder", "up", "test"):
        values = template_values(sample_message(event, now=clock))
        assert set(values) == set(FIELDS)
        assert all(isinstance(value, str) for value in values.values())
