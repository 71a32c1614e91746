"""``/api/channels`` and ``/api/monitors/{id}/alert_policy``: CRUD with write-only secrets, a
test notification to a real receiver, enable/disable, the built-in channel kept, the policy,
and who may do what (admins manage channels, editors set policies, viewers read)."""

from __future__ import annotations

import pytest

from accounts.roles import ADMIN, EDITOR, role_grants
from alerts.configuration import channel_effective_config
from alerts.models import Channel, DeliveryAttempt, MonitorAlertPolicy, Notification
from monitors.secrets import MASK
from tests.support.api import token_client
from tests.support.personas import EDITOR_PERMISSIONS, user_with
from tests.support.receivers import WebhookReceiver
from tests.support.smtp_server import LocalSmtpServer

pytestmark = pytest.mark.django_db
POLICY = "alerts.change_monitoralertpolicy"


@pytest.fixture
def editor(db):
    """An editor persona with the editor role's policy permission (not the channels')."""
    return token_client(user_with("policy-editor", [*EDITOR_PERMISSIONS, POLICY]))


def test_admins_manage_channels_and_editors_set_policies():
    assert role_grants(EDITOR, POLICY)
    assert not role_grants(EDITOR, "alerts.add_channel")
    assert all(role_grants(ADMIN, f"alerts.{a}_channel") for a in ("add", "change", "delete"))


@pytest.fixture
def receiver():
    with WebhookReceiver() as running:
        yield running


def smtp_body(port: int, **config) -> dict:
    return {
        "name": "ops mail",
        "kind": "email",
        "config": {
            "host": "127.0.0.1", "port": port, "security": "none",
            "from_address": "nanomon@example.org", "recipients": ["ops@example.org"],
            "username": "nanomon", "password": "hunter2-secret", **config,
        },
    }  # fmt: skip


def test_an_admin_creates_a_channel_whose_secret_is_never_returned(admin):
    created = admin.post("/api/channels", smtp_body(2525), format="json")

    assert created.status_code == 201, created.content
    body = created.json()
    assert body["config"]["password"] == MASK
    assert "hunter2-secret" not in created.content.decode()
    assert (body["kind"], body["enabled"], body["is_default"], body["builtin"]) == (
        "email", True, True, False,
    )  # fmt: skip
    assert body["health"]["state"] == "unused"
    listed = admin.get("/api/channels").content.decode()
    assert "hunter2-secret" not in listed
    assert "ops mail" in listed
    channel = Channel.objects.get(pk=body["id"])
    assert "hunter2-secret" not in str(channel.config)  # sealed at rest
    assert channel_effective_config(channel)["password"] == "hunter2-secret"


def test_a_masked_or_missing_secret_keeps_the_stored_one_and_a_new_one_replaces_it(admin):
    body = admin.post("/api/channels", smtp_body(2525), format="json").json()
    url = f"/api/channels/{body['id']}"

    sent_back = {**body, "name": "renamed", "config": {**body["config"], "port": 2526}}
    assert admin.put(url, sent_back, format="json").status_code == 200
    channel = Channel.objects.get(pk=body["id"])
    assert (channel.name, channel_effective_config(channel)["password"]) == (
        "renamed", "hunter2-secret",
    )  # fmt: skip
    config = dict(body["config"])
    del config["password"]
    assert admin.patch(url, {"config": config}, format="json").status_code == 200
    assert channel_effective_config(Channel.objects.get(pk=body["id"]))["password"] == (
        "hunter2-secret"
    )
    config["password"] = "new-one"
    assert admin.patch(url, {"config": config}, format="json").status_code == 200
    channel = Channel.objects.get(pk=body["id"])
    assert channel_effective_config(channel)["password"] == "new-one"


def test_disabling_through_the_enabled_field_keeps_the_config(admin):
    body = admin.post("/api/channels", smtp_body(2525), format="json").json()

    answer = admin.patch(f"/api/channels/{body['id']}", {"enabled": False}, format="json")

    assert answer.status_code == 200
    assert answer.json()["enabled"] is False
    assert answer.json()["config"]["port"] == 2525


def test_a_bad_config_is_a_problem_naming_the_field(admin):
    answer = admin.post(
        "/api/channels",
        {"name": "hook", "kind": "webhook", "config": {"url": "ftp://nowhere"}},
        format="json",
    )

    assert answer.status_code == 400
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert answer.json()["detail"].startswith("config.url: ")
    assert not Channel.objects.filter(name="hook").exists()


def test_the_test_action_sends_to_a_real_webhook_and_records_the_delivery(admin, receiver):
    body = admin.post(
        "/api/channels",
        {"name": "hook", "kind": "webhook", "config": {"url": receiver.url("/hook?s={STATE}")}},
        format="json",
    ).json()

    answer = admin.post(f"/api/channels/{body['id']}/test")

    assert answer.status_code == 200, answer.content
    assert answer.json()["succeeded"] is True
    (request,) = receiver.wait_for(1)
    assert request.path == "/hook"
    notification = Notification.objects.get(pk=answer.json()["notification"])
    assert notification.event == "test"
    assert notification.status == "sent"
    assert DeliveryAttempt.objects.get(notification=notification).succeeded
    assert admin.get(f"/api/channels/{body['id']}").json()["health"]["state"] == "ok"


def test_a_failing_test_says_why_and_the_channel_shows_as_failing(admin):
    with LocalSmtpServer(start=False) as down:
        body = admin.post("/api/channels", smtp_body(down.port), format="json").json()
        answer = admin.post(f"/api/channels/{body['id']}/test")

    assert answer.json()["succeeded"] is False
    assert answer.json()["error"]
    health = admin.get(f"/api/channels/{body['id']}").json()["health"]
    assert (health["state"], health["failures_in_row"]) == ("failing", 1)
    assert health["last_error"] == answer.json()["error"]


def test_a_test_mail_reaches_a_real_smtp_server(admin):
    with LocalSmtpServer() as smtp:
        body = admin.post("/api/channels", smtp_body(smtp.port, username="", password=""),
                          format="json").json()  # fmt: skip
        assert admin.post(f"/api/channels/{body['id']}/test").json()["succeeded"] is True
        (mail,) = smtp.wait_for_mails(1)
    assert mail.message["Subject"] == "NanoMon test notification"


def test_delete_removes_a_channel_but_keeps_the_builtin_one(admin):
    body = admin.post("/api/channels", smtp_body(2525), format="json").json()
    assert admin.delete(f"/api/channels/{body['id']}").status_code == 204
    assert admin.get(f"/api/channels/{body['id']}").status_code == 404

    builtin = Channel.objects.get(builtin=Channel.BUILTIN_SETTINGS_EMAIL)
    answer = admin.delete(f"/api/channels/{builtin.pk}")
    assert answer.status_code == 400
    assert "built-in" in answer.json()["detail"]
    assert Channel.objects.filter(pk=builtin.pk).exists()


def test_who_may_do_what_with_channels(admin, editor, viewer, anonymous):
    body = admin.post("/api/channels", smtp_body(2525), format="json").json()
    url = f"/api/channels/{body['id']}"

    assert viewer.get("/api/channels").status_code == 200
    assert viewer.get(url).json()["config"]["password"] == MASK
    assert anonymous.get("/api/channels").status_code == 401
    for client, refused in ((editor, 403), (viewer, 403), (anonymous, 401)):
        assert client.post("/api/channels", smtp_body(2525), format="json").status_code == refused
        assert client.patch(url, {"enabled": False}, format="json").status_code == refused
        assert client.post(f"{url}/test").status_code == refused
        assert client.delete(url).status_code == refused
    assert Channel.objects.get(pk=body["id"]).enabled


def test_a_monitor_without_a_policy_reads_as_all_defaults(viewer, make_monitor, settings):
    monitor = make_monitor()
    settings.ALERT_FAIL_COUNT = 4

    body = viewer.get(f"/api/monitors/{monitor.pk}/alert_policy").json()

    assert body["monitor"] == monitor.pk
    assert (body["fail_threshold"], body["muted"], body["use_default_channels"]) == (
        None, False, True,
    )  # fmt: skip
    assert body["channels"] == []
    assert body["defaults"]["fail_threshold"] == 4
    assert viewer.get("/api/monitors/999999/alert_policy").status_code == 404


def test_an_editor_sets_a_policy_and_others_may_not(admin, editor, viewer, anonymous, make_monitor):
    monitor = make_monitor()
    channel = admin.post("/api/channels", smtp_body(2525), format="json").json()
    url = f"/api/monitors/{monitor.pk}/alert_policy"
    policy = {
        "fail_threshold": 2, "recover_threshold": 3, "reminder_minutes": 30, "muted": True,
        "use_default_channels": False, "channels": [channel["id"]],
    }  # fmt: skip

    answer = editor.put(url, policy, format="json")

    assert answer.status_code == 200, answer.content
    stored = MonitorAlertPolicy.objects.get(monitor=monitor)
    assert (stored.fail_threshold, stored.recover_threshold, stored.reminder_minutes) == (2, 3, 30)
    assert stored.muted
    assert list(stored.channels.values_list("pk", flat=True)) == [channel["id"]]
    assert editor.get(url).json()["channels"] == [channel["id"]]
    assert viewer.put(url, policy, format="json").status_code == 403
    assert anonymous.put(url, policy, format="json").status_code == 401
    bad = editor.put(url, {**policy, "fail_threshold": 0}, format="json")
    assert bad.status_code == 400
    assert "fail_threshold" in bad.json()["detail"]
    unknown = editor.put(url, {**policy, "channels": [999999]}, format="json")
    assert unknown.status_code == 400


def test_put_leaves_out_fields_as_defaults(editor, make_monitor):
    monitor = make_monitor()
    url = f"/api/monitors/{monitor.pk}/alert_policy"
    editor.put(url, {"fail_threshold": 5, "muted": True}, format="json")

    body = editor.put(url, {"reminder_minutes": 10}, format="json").json()

    assert (body["fail_threshold"], body["muted"], body["reminder_minutes"]) == (None, False, 10)


def test_the_policy_sets_escalation_in_the_api_and_on_the_page(
    admin, editor, admin_user, make_monitor
):
    from tests.web.conftest import session_client

    monitor = make_monitor()
    channel = admin.post("/api/channels", smtp_body(2525), format="json").json()
    url = f"/api/monitors/{monitor.pk}/alert_policy"
    body = editor.put(
        url, {"escalate_after_minutes": 15, "escalation_channels": [channel["id"]]}, format="json"
    ).json()
    assert (body["escalate_after_minutes"], body["escalation_channels"]) == (15, [channel["id"]])
    stored = MonitorAlertPolicy.objects.get(monitor=monitor)
    assert stored.escalate_after_minutes == 15
    assert list(stored.escalation_channels.values_list("pk", flat=True)) == [channel["id"]]
    assert editor.put(url, {"escalate_after_minutes": 0}, format="json").status_code == 400
    cleared = editor.put(url, {}, format="json").json()  # PUT replaces: left out, never
    assert (cleared["escalate_after_minutes"], cleared["escalation_channels"]) == (None, [])

    client = session_client(admin_user)
    saved = client.post(
        f"/monitors/{monitor.pk}/alerting",
        {"use_default_channels": "on", "escalate_after_minutes": "20",
         "escalation_channels": [channel["id"]]},
    )  # fmt: skip
    assert saved.status_code == 302, saved.content.decode()[:1500]
    stored.refresh_from_db()
    assert stored.escalate_after_minutes == 20
    assert (
        "Escalate after (minutes)"
        in client.get(f"/monitors/{monitor.pk}/alerting").content.decode()
    )
