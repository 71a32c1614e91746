"""Webhook and Apprise channels against a real HTTP receiver on loopback: gosrvmon's GET URL
placeholders, POST payloads and templates with headers, errors, timeouts, and Apprise's
json:// and form:// schemas."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError

from alerts.channels.base import MASK, AlertMessage
from alerts.channels.webhook import placeholder_values
from alerts.configuration import alert_policy_set, channel_create
from alerts.delivery import channel_send_test, notification_deliver
from alerts.models import AlertState, Notification
from alerts.sweep import alerts_sweep
from tests.support.http_servers import refused_port
from tests.support.receivers import WebhookReceiver

pytestmark = pytest.mark.django_db

ALL_PLACEHOLDERS = (
    "/gs?host={HOST}&state={STATE}&time={TIME}&ts={TIMESTAMP}&rtt={RTT}&rttstr={RTTSTR}"
    "&up={UP}&down={DOWN}&name={NAME}&reason={REASON}&event={EVENT}&link={LINK}"
    "&failures={FAILURES}&id={ID}"
)


def deliver_all(monitor) -> None:
    for notification in Notification.objects.filter(transition__monitor=monitor).order_by("id"):
        notification_deliver(notification.pk, now=notification.next_attempt_at)


def transition_of(monitor, event):
    return Notification.objects.get(transition__monitor=monitor, event=event).transition


def test_gosrvmon_placeholders_are_filled_in_and_url_encoded(make_monitor, record, receiver):
    channel_create(name="gs", kind="webhook", config={"url": receiver.url(ALL_PLACEHOLDERS)})
    target = "http://127.0.0.1:9/a b?x=1&y=2#frag"
    monitor = make_monitor(name="web & co", target=target)
    record(monitor, "FFF O")

    deliver_all(monitor)

    down, up = receiver.wait_for(2)
    went_down = transition_of(monitor, "down").happened_at.astimezone(UTC)
    assert down.method == "GET"
    assert down.query == {
        "host": target,
        "state": "down",
        "time": f"{went_down:%Y-%m-%d %H:%M:%S} +0000 UTC",
        "ts": str(int(went_down.timestamp())),
        "rtt": "5000",  # gosrvmon: a host that went down reports the timeout (http's 5s)
        "rttstr": "5s",
        "up": "false",
        "down": "true",
        "name": "web & co",
        "reason": "connection refused",
        "event": "down",
        "link": f"https://nanomon.example.org/monitors/{monitor.pk}",
        "failures": "3",
        "id": str(monitor.pk),
    }
    assert "host=http%3A%2F%2F127.0.0.1%3A9%2Fa%20b%3Fx%3D1%26y%3D2%23frag" in down.raw_query
    assert (up.query["state"], up.query["up"], up.query["down"]) == ("up", "true", "false")
    assert (up.query["rtt"], up.query["rttstr"]) == ("12.5", "12.5ms")


def test_rtt_on_a_down_event_and_its_reminders_is_the_monitors_timeout(
    make_monitor, record, receiver
):
    channel_create(
        name="gs", kind="webhook", config={"url": receiver.url("/r?rtt={RTT}&s={RTTSTR}")}
    )
    monitor = make_monitor(
        name="db", target="127.0.0.1:5432", kind="tcp", properties={"timeout": "1500ms"}
    )
    alert_policy_set(monitor, reminder_minutes=10)
    # Error runs have a measured value (12.5 ms), but the host is down: the timeout it is.
    record(monitor, "EEE")
    deliver_all(monitor)
    down_at = AlertState.objects.get(monitor=monitor).changed_at
    [reminder] = alerts_sweep(now=down_at + timedelta(minutes=10)).reminders
    notification_deliver(reminder, now=down_at + timedelta(minutes=10))

    down, again = receiver.wait_for(2)
    assert (down.query, again.query) == ({"rtt": "1500", "s": "1.5s"},) * 2


@pytest.mark.parametrize(
    ("kind", "properties", "expected"),
    [
        ("http", {}, 5000.0),
        ("tcp", {"timeout": "2s"}, 2000.0),
        ("ping", {"timeout": "800ms", "count": "5"}, 800.0),  # per reply, as gosrvmon's
        ("push", {}, 0.0),  # no timeout: the run's value
    ],
)
def test_rtt_placeholder_on_down_per_type(kind, properties, expected):
    message = AlertMessage(
        event="down", notification_id=1, monitor_id=1, monitor_name="m", kind=kind,
        target="x", interval="1m", rule="", properties=properties, failures=3, reason="",
        happened_at=datetime(2026, 1, 1, tzinfo=UTC), value=None, link="",
    )  # fmt: skip
    up = replace(message, event="up", value=7.25)

    assert float(placeholder_values(message)["RTT"]) == expected
    assert placeholder_values(up)["RTT"] == "7.25"


def test_a_post_without_a_template_sends_the_default_json_payload(make_monitor, record, receiver):
    channel_create(
        name="post", kind="webhook", config={"url": receiver.url("/json"), "method": "POST"}
    )
    monitor = make_monitor(
        name="db", target="127.0.0.1:5432", kind="tcp", properties={"timeout": "2s"}
    )
    record(monitor, "EEE")

    deliver_all(monitor)

    [request] = receiver.wait_for(1)
    assert request.method == "POST"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"].startswith("NanoMon/")
    payload = request.json()
    went_down = transition_of(monitor, "down").happened_at.astimezone(UTC)
    assert payload == {
        "event": "down",
        "state": "down",
        "up": False,
        "down": True,
        "text": "db is DOWN: 3 failed runs in a row. Reason: Rule violated: status == 200",
        "monitor": {
            "id": monitor.pk,
            "name": "db",
            "type": "tcp",
            "target": "127.0.0.1:5432",
            "interval": "30s",
            "rule": "",
            "properties": {"timeout": "2s"},
            "url": f"https://nanomon.example.org/monitors/{monitor.pk}",
        },
        "failures": 3,
        "reason": "Rule violated: status == 200",
        "time": went_down.isoformat().replace("+00:00", "Z"),
        "timestamp": int(went_down.timestamp()),
        "rtt": 12.5,
        "reminder": 0,
    }


def test_a_post_template_gets_json_escaped_values_and_custom_headers(
    make_monitor, record, receiver
):
    channel_create(
        name="chat",
        kind="webhook",
        config={
            "url": receiver.url("/chat/{STATE}"),
            "method": "POST",
            "body": '{"text": "{NAME} is {STATE} ({REASON})", "host": "{HOST}"}',
            "headers": {"Authorization": "Bearer hook-token-42", "X-Team": "ops"},
        },
    )
    monitor = make_monitor(name='web "prod"\\east')
    record(monitor, "FFF")

    deliver_all(monitor)

    [request] = receiver.wait_for(1)
    assert request.path == "/chat/down"
    assert request.json() == {
        "text": 'web "prod"\\east is down (connection refused)',
        "host": monitor.target,
    }
    assert request.headers["Authorization"] == "Bearer hook-token-42"
    assert request.headers["X-Team"] == "ops"
    assert request.headers["Content-Type"] == "application/json"


def test_a_custom_content_type_is_kept(receiver):
    channel = channel_create(
        name="form",
        kind="webhook",
        config={
            "url": receiver.url("/form"),
            "method": "POST",
            "body": "state={STATE}",
            "headers": {"content-type": "application/x-www-form-urlencoded"},
        },
    )

    assert channel_send_test(channel).succeeded

    [request] = receiver.wait_for(1)
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.text() == "state=test"


def test_an_error_answer_is_a_failure_whose_message_never_holds_a_secret():
    with WebhookReceiver(fail_next=1, fail_status=403, fail_body="bad token tok-SECRET-999") as r:
        channel = channel_create(
            name="hook", kind="webhook", config={"url": r.url("/h?token=tok-SECRET-999")}
        )

        outcome = channel_send_test(channel)

    assert outcome.error == f"HTTP 403: bad token {MASK}"


def test_a_slow_receiver_times_out(alert_settings):
    alert_settings.ALERT_DELIVERY_TIMEOUT = 0.3
    with WebhookReceiver(delay=2) as slow:
        channel = channel_create(name="slow", kind="webhook", config={"url": slow.url()})

        outcome = channel_send_test(channel)

    assert (outcome.succeeded, outcome.error) == (False, "timed out after 0.3s")


def test_an_unreachable_receiver_is_connection_refused_without_the_url():
    port = refused_port()
    channel = channel_create(
        name="gone", kind="webhook", config={"url": f"http://127.0.0.1:{port}/secret-path-xyz"}
    )

    outcome = channel_send_test(channel)

    assert outcome.error == "connection refused"


@pytest.mark.parametrize(
    ("config", "field", "message"),
    [
        ({"url": "ftp://example.org/"}, "url", "http:// or https://"),
        ({"url": ""}, "url", "required"),
        ({"url": "http://x.test/", "body": "{}"}, "body", "only with POST"),
        ({"url": "http://x.test/", "headers": "[1]"}, "headers", "JSON object"),
        ({"url": "http://x.test/", "method": "PUT"}, "method", "one of GET, POST"),
    ],
)
def test_a_bad_webhook_config_is_refused_naming_the_field(config, field, message):
    with pytest.raises(ValidationError) as refused:
        channel_create(name="bad", kind="webhook", config=config)

    assert message in " ".join(refused.value.message_dict[field])


# --- Apprise ------------------------------------------------------------------------------------


def test_apprise_json_url_delivers_title_body_and_type(make_monitor, record, receiver):
    channel_create(
        name="apprise", kind="apprise", config={"urls": [f"json://{receiver.address}/apprise"]}
    )
    monitor = make_monitor(name="mail server")
    record(monitor, "FFF O")

    deliver_all(monitor)

    down, up = receiver.wait_for(2)
    assert (down.method, down.path) == ("POST", "/apprise")
    payload = down.json()
    assert payload["title"] == "NanoMon alert for: mail server"
    assert payload["message"].startswith("mail server is DOWN: 3 failed runs in a row.")
    assert f"https://nanomon.example.org/monitors/{monitor.pk}" in payload["message"]
    assert payload["type"] == "failure"
    assert up.json()["title"] == "NanoMon recovered: mail server"
    assert up.json()["type"] == "success"


def test_apprise_sends_to_every_url_of_the_channel(receiver):
    channel = channel_create(
        name="both",
        kind="apprise",
        config={"urls": [f"json://{receiver.address}/one", f"form://{receiver.address}/two"]},
    )

    outcome = channel_send_test(channel)

    assert outcome.succeeded, outcome.error
    requests = {request.path: request for request in receiver.wait_for(2)}
    assert json.loads(requests["/one"].body)["title"] == "NanoMon test notification"
    assert "title=NanoMon+test+notification" in requests["/two"].text()


def test_apprise_failure_is_reported_without_the_url(caplog):
    url = f"json://user:apprise-pass-777@127.0.0.1:{refused_port()}/secret-hook"
    channel = channel_create(name="down", kind="apprise", config={"urls": [url]})

    outcome = channel_send_test(channel)

    assert not outcome.succeeded
    assert outcome.error.startswith("Apprise reported FAILURE")
    assert "apprise-pass-777" not in outcome.error
    assert "apprise-pass-777" not in caplog.text


def test_an_invalid_apprise_url_is_refused_on_save():
    with pytest.raises(ValidationError) as refused:
        channel_create(name="bad", kind="apprise", config={"urls": ["nosuchschema://x"]})

    assert refused.value.message_dict["urls"] == [
        "not a valid Apprise URL: URL 1 (nosuchschema://…)"
    ]


def test_deliveries_are_counted_for_prometheus(make_monitor, record, receiver):
    from metrics.selectors import engine_counters

    channel_create(name="ok", kind="webhook", config={"url": receiver.url("/hook")})
    channel_create(
        name="down", kind="webhook", config={"url": f"http://127.0.0.1:{refused_port()}/"}
    )
    monitor = make_monitor(name="counted")
    record(monitor, "FFF")

    deliver_all(monitor)

    counters = {(name, label): value for name, label, _, value in engine_counters()}
    assert counters[("notifications_sent", "webhook")] == 1
    assert counters[("notifications_failed", "webhook")] == 1
