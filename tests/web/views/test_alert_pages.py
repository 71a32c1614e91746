"""The alerting pages: channels (list with health, create per kind with write-only secrets,
edit, test against a real receiver, delete with a confirmation), a monitor's Alerting page
(policy, its outages) and the alert history; escaped text; writes need the permissions."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from alerts import tasks
from alerts.configuration import alert_policy_set, channel_create, channel_effective_config
from alerts.models import Channel, MonitorAlertPolicy, Notification
from loop.batches import batch_record
from monitors.engine import CheckResult, CheckStatus
from monitors.models import Monitor
from monitors.secrets import MASK
from results.services import RunRecord
from tests.support.personas import EDITOR_PERMISSIONS, user_with
from tests.support.receivers import WebhookReceiver
from tests.web.conftest import session_client

pytestmark = pytest.mark.django_db
POLICY = "alerts.change_monitoralertpolicy"


@pytest.fixture
def policy_editor():
    return session_client(user_with("policy-editor", [*EDITOR_PERMISSIONS, POLICY]))


@pytest.fixture
def receiver():
    with WebhookReceiver() as running:
        yield running


def smtp_form(**fields) -> dict:
    return {
        "name": "<b>ops</b> mail", "kind": "email", "enabled": "on", "is_default": "on",
        "email_host": "127.0.0.1", "email_port": "2525", "email_security": "none",
        "email_from_address": "nanomon@example.org", "email_recipients": "ops@example.org",
        "email_username": "nanomon", "email_password": "hunter2-secret", **fields,
    }  # fmt: skip


def test_an_admin_creates_an_email_channel_and_its_secret_never_shows(admin):
    page = admin.get("/alerts/channels/new").content.decode()
    assert 'id="kind-email"' in page
    assert 'id="kind-webhook"' in page
    assert 'id="kind-apprise"' in page

    answer = admin.post("/alerts/channels/new", smtp_form())

    assert answer.status_code == 302, answer.content.decode()
    channel = Channel.objects.get(builtin__isnull=True)
    assert channel_effective_config(channel)["password"] == "hunter2-secret"
    listing = admin.get("/alerts/channels").content.decode()
    assert "&lt;b&gt;ops&lt;/b&gt; mail" in listing
    assert "<b>ops</b>" not in listing
    edit = admin.get(f"/alerts/channels/{channel.pk}/edit").content.decode()
    assert "hunter2-secret" not in edit
    assert MASK in edit  # the stored value, masked, in the field's help
    assert 'id="kind-webhook"' not in edit


def test_editing_with_a_blank_secret_keeps_it(admin):
    admin.post("/alerts/channels/new", smtp_form())
    channel = Channel.objects.get(builtin__isnull=True)

    answer = admin.post(
        f"/alerts/channels/{channel.pk}/edit",
        smtp_form(name="renamed", email_password="", kind="webhook"),  # the kind is fixed
    )

    assert answer.status_code == 302
    channel.refresh_from_db()
    assert (channel.name, channel.kind) == ("renamed", "email")
    assert channel_effective_config(channel)["password"] == "hunter2-secret"


def test_a_bad_setting_is_shown_next_to_its_field(admin):
    answer = admin.post("/alerts/channels/new", smtp_form(email_recipients=""))

    assert answer.status_code == 200
    assert "field-error" in answer.content.decode()
    assert not Channel.objects.filter(builtin__isnull=True).exists()


def test_the_test_button_sends_to_a_real_webhook_and_says_so(admin, receiver):
    channel = channel_create(name="hook", kind="webhook", config={"url": receiver.url("/t")})

    answer = admin.post(f"/alerts/channels/{channel.pk}/test", follow=True)

    assert "hook: test notification sent." in answer.content.decode()
    (request,) = receiver.wait_for(1)
    assert request.path == "/t"


def test_a_failing_channel_is_highlighted_with_its_error(admin):
    channel = channel_create(name="dead", kind="webhook", config={"url": "http://127.0.0.1:9/x"})

    answer = admin.post(f"/alerts/channels/{channel.pk}/test", follow=True).content.decode()

    assert "dead: test failed: " in answer
    assert "Failing channels" in answer
    assert "channel-failing" in answer


def test_delete_asks_first_and_keeps_the_builtin_channel(admin):
    channel = channel_create(name="hook", kind="webhook", config={"url": "http://127.0.0.1:9/"})
    page = admin.get(f"/alerts/channels/{channel.pk}/delete").content.decode()
    assert "Delete “hook”?" in page
    assert Channel.objects.filter(pk=channel.pk).exists()

    admin.post(f"/alerts/channels/{channel.pk}/delete")
    assert not Channel.objects.filter(pk=channel.pk).exists()
    builtin = Channel.objects.get(builtin=Channel.BUILTIN_SETTINGS_EMAIL)
    answer = admin.post(f"/alerts/channels/{builtin.pk}/delete", follow=True)
    assert "cannot be deleted" in answer.content.decode()
    assert Channel.objects.filter(pk=builtin.pk).exists()


def test_who_may_do_what_with_channels(editor, viewer, anonymous, admin):
    channel = channel_create(name="hook", kind="webhook", config={"url": "http://127.0.0.1:9/"})
    assert viewer.get("/alerts/channels").status_code == 200
    assert "Send test" not in viewer.get("/alerts/channels").content.decode()
    assert "Send test" in admin.get("/alerts/channels").content.decode()
    for client in (editor, viewer):
        assert client.get("/alerts/channels/new").status_code == 403
        assert client.post(f"/alerts/channels/{channel.pk}/test").status_code == 403
        assert client.post(f"/alerts/channels/{channel.pk}/delete").status_code == 403
    assert anonymous.get("/alerts/channels").status_code == 302
    assert Channel.objects.filter(pk=channel.pk).exists()


def test_the_nav_has_alerts_and_the_monitor_page_links_its_alerting_page(viewer, make_monitor):
    monitor = make_monitor()
    page = viewer.get(f"/monitors/{monitor.pk}").content.decode()
    assert 'href="/alerts/channels"' in page
    assert f'href="/monitors/{monitor.pk}/alerting"' in page


def test_an_editor_sets_the_policy_on_the_alerting_page(policy_editor, viewer, make_monitor):
    monitor = make_monitor()
    channel = channel_create(name="hook", kind="webhook", config={"url": "http://127.0.0.1:9/"})

    answer = policy_editor.post(
        f"/monitors/{monitor.pk}/alerting",
        {"fail_threshold": "2", "recover_threshold": "", "reminder_minutes": "15",
         "channels": [channel.pk]},
    )  # fmt: skip

    assert answer.status_code == 302
    policy = MonitorAlertPolicy.objects.get(monitor=monitor)
    assert (policy.fail_threshold, policy.recover_threshold, policy.reminder_minutes) == (
        2, None, 15,
    )  # fmt: skip
    assert not policy.use_default_channels
    assert list(policy.channels.all()) == [channel]
    shown = viewer.get(f"/monitors/{monitor.pk}/alerting").content.decode()
    assert "Save policy" not in shown
    assert "hook" in shown
    assert viewer.post(f"/monitors/{monitor.pk}/alerting", {}).status_code == 403


def record(monitor: Monitor, codes: str) -> None:
    moment = timezone.now()
    for code in codes:
        failed = code == "F"
        token = uuid.uuid4()
        Monitor.objects.filter(pk=monitor.pk).update(run_token=token)
        result = CheckResult(
            status=CheckStatus.FAILED if failed else CheckStatus.OK,
            value=0.0 if failed else 12.5,
            message="<script>refused</script>" if failed else "",
            outputs=None if failed else {"status": 200},
            stored_outputs=None if failed else {"status": 200},
            started_at=moment,
            duration_seconds=0.01,
        )
        batch_record(
            token=token, runs=[RunRecord(monitor.pk, monitor.name, monitor.target, moment, result)]
        )
        moment += timedelta(seconds=30)


def test_the_history_shows_outages_notifications_and_attempts(
    settings, viewer, make_monitor, receiver
):
    settings.ALERT_FAIL_COUNT = 2
    channel_create(name="hook", kind="webhook", config={"url": receiver.url("/h")})
    monitor = make_monitor(name="web")
    alert_policy_set(monitor)
    record(monitor, "OFFO")
    for notification in Notification.objects.order_by("id"):
        tasks.deliver_notification(notification.pk)

    for url in ("/alerts/history", f"/monitors/{monitor.pk}/alerting"):
        page = viewer.get(url).content.decode()
        assert "down 30 s" in page
        assert "&lt;script&gt;refused&lt;/script&gt;" in page
        assert "<script>refused" not in page
        assert "Recovered" in page
        assert "1: ok" in page
