"""Message templates through ``/api/channels``: stored in the config, refused with a clear
error under ``config.<name>``, previewed (``POST /api/channels/{id}/preview``) without
sending, and only by those who may change channels."""

from __future__ import annotations

import pytest

from alerts.models import Channel, Notification

pytestmark = pytest.mark.django_db

HOOK = {"url": "http://127.0.0.1:9/hook", "method": "POST"}


def create(client, **config):
    return client.post(
        "/api/channels",
        {"name": "hook", "kind": "webhook", "config": {**HOOK, **config}},
        format="json",
    )


def test_templates_are_stored_and_returned_in_the_config(admin):
    answer = create(admin, subject_template="[${state}] ${name}", body_template="${summary}")

    assert answer.status_code == 201, answer.content
    config = answer.json()["config"]
    assert (config["subject_template"], config["body_template"]) == (
        "[${state}] ${name}",
        "${summary}",
    )
    without = create(admin)
    assert without.json()["config"]["subject_template"] == ""


@pytest.mark.parametrize(
    ("field", "template", "reason"),
    [
        ("body_template", "{{ settings.SECRET_KEY }}", "is not template syntax here"),
        ("body_template", "{% include 'base.html' %}", "is not template syntax here"),
        ("body_template", "${secret_key}", "unknown placeholder ${secret_key}"),
        ("subject_template", "${name.__dict__}", "malformed placeholder"),
        ("subject_template", "two\nlines", "a subject is one line"),
    ],
)
def test_a_bad_template_is_refused_with_its_reason(admin, field, template, reason):
    answer = create(admin, **{field: template})

    assert answer.status_code == 400
    errors = answer.json()["errors"] if "errors" in answer.json() else answer.json()
    assert reason in str(errors)
    assert f"config.{field}" in str(errors)
    assert not Channel.objects.filter(name="hook").exists()


def test_a_preview_renders_each_event_and_sends_nothing(admin):
    channel = create(admin, subject_template="${name} is ${state}", body_template="${summary}")
    url = f"/api/channels/{channel.json()['id']}/preview"

    down = admin.post(url, {"event": "down"}, format="json")
    up = admin.post(url, {"event": "up"}, format="json")
    test = admin.post(url, {"event": "test"}, format="json")

    assert down.status_code == 200, down.content
    assert down.json() == {
        "event": "down",
        "subject": "Example shop is down",
        "body": "Example shop is DOWN: 3 failed runs in a row. "
        "Reason: Rule violated: status == 200",
    }
    assert (up.json()["subject"], up.json()["body"]) == (
        "Example shop is up",
        "Example shop is UP again.",
    )
    assert test.json()["subject"] == "NanoMon test is test"
    assert not Notification.objects.exists()


def test_a_preview_tries_templates_not_yet_saved_and_checks_them(admin):
    channel = create(admin).json()
    url = f"/api/channels/{channel['id']}/preview"

    default = admin.post(url, {}, format="json").json()
    tried = admin.post(
        url, {"event": "up", "body_template": "lasted ${duration}"}, format="json"
    ).json()
    bad = admin.post(url, {"body_template": "{{ settings }}"}, format="json")

    assert default["subject"] == "NanoMon alert for: Example shop"
    assert default["body"].startswith("Example shop is DOWN")
    assert tried["body"] == "lasted 12 min 30 s"
    assert bad.status_code == 400
    assert "config.body_template" in str(bad.json())
    assert Channel.objects.get(pk=channel["id"]).config["body_template"] == ""


def test_an_email_preview_without_templates_is_the_mail_text(admin):
    answer = admin.post(
        "/api/channels",
        {
            "name": "mail",
            "kind": "email",
            "config": {
                "host": "127.0.0.1",
                "from_address": "nanomon@example.org",
                "recipients": ["ops@example.org"],
            },
        },
        format="json",
    )
    preview = admin.post(
        f"/api/channels/{answer.json()['id']}/preview", {"event": "up"}, format="json"
    )

    assert preview.json()["subject"] == "NanoMon recovered: Example shop"
    assert "The outage lasted 12 min 30 s." in preview.json()["body"]


def test_only_those_who_may_change_channels_preview(admin, editor, viewer, anonymous):
    url = f"/api/channels/{create(admin).json()['id']}/preview"

    assert editor.post(url, {}, format="json").status_code == 403
    assert viewer.post(url, {}, format="json").status_code == 403
    assert anonymous.post(url, {}, format="json").status_code == 401
    assert admin.post("/api/channels/999999/preview", {}, format="json").status_code == 404
