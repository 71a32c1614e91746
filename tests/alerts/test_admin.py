"""The alerting admin: channels listed with their health and a masked destination, forms that
never show a secret back, the "send a test notification" action, and policies."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from alerts.configuration import (
    builtin_channel_ensure,
    channel_create,
    channel_effective_config,
)
from alerts.delivery import channel_send_test
from alerts.models import Channel, MonitorAlertPolicy, Notification
from tests.support.http_servers import refused_port

pytestmark = pytest.mark.django_db

TOKEN = "hook-token-8888"


@pytest.fixture
def secret_hook(receiver):
    return channel_create(
        name="secret hook",
        kind="webhook",
        config={
            "url": receiver.url(f"/x/{TOKEN}"),
            "headers": {"Authorization": "Bearer header-secret-9"},
        },
    )


def test_the_channel_list_shows_masked_destinations_and_failing_channels(admin_client, secret_hook):
    dead = channel_create(
        name="dead hook", kind="webhook", config={"url": f"http://127.0.0.1:{refused_port()}/"}
    )
    channel_send_test(dead)
    channel_send_test(dead)

    page = admin_client.get(reverse("admin:alerts_channel_changelist")).content.decode()

    assert "secret hook" in page
    assert "GET http://127.0.0.1:" in page
    assert "Failing (2 in a row)" in page
    assert "Failing channels: dead hook (connection refused)" in page
    assert TOKEN not in page
    assert "header-secret-9" not in page


def test_the_change_form_never_shows_a_secret(admin_client, secret_hook):
    url = reverse("admin:alerts_channel_change", args=[secret_hook.pk])

    page = admin_client.get(url).content.decode()

    assert TOKEN not in page
    assert "header-secret-9" not in page
    assert "Stored: http://127.0.0.1:" in page
    assert "Leave blank to keep the stored value." in page


def test_saving_the_form_with_blank_secrets_keeps_them(admin_client, secret_hook):
    url = reverse("admin:alerts_channel_change", args=[secret_hook.pk])

    response = admin_client.post(
        url,
        {
            "name": "renamed hook",
            "kind": "webhook",
            "enabled": "on",
            "is_default": "on",
            "webhook_url": "",
            "webhook_method": "POST",
            "webhook_body": "",
            "webhook_headers": "",
            "webhook_verify_tls": "on",
            "email_port": "587",
            "email_security": "starttls",
        },
    )

    assert response.status_code == 302, response.content.decode()[-2000:]
    secret_hook.refresh_from_db()
    assert secret_hook.name == "renamed hook"
    config = channel_effective_config(secret_hook)  # stored sealed: opened as the sender does
    assert config["method"] == "POST"
    assert TOKEN in config["url"]
    assert config["headers"] == {"Authorization": "Bearer header-secret-9"}


def test_adding_a_channel_validates_the_fields_of_its_kind(admin_client, receiver):
    url = reverse("admin:alerts_channel_add")
    base = {"name": "ops mail", "kind": "email", "enabled": "on", "is_default": "on"}

    refused = admin_client.post(url, {**base, "email_port": "587", "email_security": "starttls"})
    assert refused.status_code == 200
    assert "SMTP host is required" in refused.content.decode()

    added = admin_client.post(
        url,
        {
            **base,
            "email_host": "127.0.0.1",
            "email_port": "2525",
            "email_security": "none",
            "email_password": "form-pass-1",
            "email_from_address": "nanomon@example.org",
            "email_recipients": "a@example.org\nb@example.org",
        },
    )
    assert added.status_code == 302
    channel = Channel.objects.get(name="ops mail")
    assert channel.config["recipients"] == ["a@example.org", "b@example.org"]
    assert channel_effective_config(channel)["password"] == "form-pass-1"


def test_the_send_test_notification_action_sends_and_reports(admin_client, secret_hook, receiver):
    response = admin_client.post(
        reverse("admin:alerts_channel_changelist"),
        {"action": "send_test_notification", "_selected_action": [secret_hook.pk]},
        follow=True,
    )

    assert "Secret hook: test notification sent." in response.content.decode()  # capfirst
    [request] = receiver.wait_for(1)
    assert request.path == f"/x/{TOKEN}"
    assert Notification.objects.get(channel=secret_hook).event == "test"


def test_the_builtin_channel_shows_its_settings_and_cannot_be_deleted(admin_client, alert_settings):
    alert_settings.ALERT_SMTP_FROM = "nanomon@example.org"
    alert_settings.ALERT_SMTP_TO = ["ops@example.org"]
    alert_settings.ALERT_SMTP_PASSWORD = "env-secret-55"
    builtin = builtin_channel_ensure()

    page = admin_client.get(reverse("admin:alerts_channel_change", args=[builtin.pk]))
    delete = admin_client.get(reverse("admin:alerts_channel_delete", args=[builtin.pk]))

    text = page.content.decode()
    assert "ALERT_SMTP_*" in text
    assert "ops@example.org" in text
    assert "env-secret-55" not in text
    assert delete.status_code == 403


def test_a_monitor_alert_policy_is_set_in_the_admin(admin_client, make_monitor, secret_hook):
    monitor = make_monitor()

    response = admin_client.post(
        reverse("admin:alerts_monitoralertpolicy_add"),
        {
            "monitor": monitor.pk,
            "fail_threshold": "5",
            "recover_threshold": "",
            "reminder_minutes": "30",
            "use_default_channels": "",
            "channels": [secret_hook.pk],
        },
    )

    assert response.status_code == 302, response.content.decode()[-2000:]
    policy = MonitorAlertPolicy.objects.get(monitor=monitor)
    assert (policy.fail_threshold, policy.recover_threshold, policy.reminder_minutes) == (
        5,
        None,
        30,
    )
    assert list(policy.channels.all()) == [secret_hook]


def test_the_read_only_pages_of_transitions_and_notifications_render(
    admin_client, make_monitor, record, secret_hook
):
    monitor = make_monitor(name="listed")
    record(monitor, "FFF")
    notification = Notification.objects.get(transition__monitor=monitor)

    for url in (
        reverse("admin:alerts_transition_changelist"),
        reverse("admin:alerts_notification_changelist"),
        reverse("admin:alerts_alertstate_changelist"),
        reverse("admin:alerts_notification_change", args=[notification.pk]),
        reverse("admin:alerts_transition_change", args=[notification.transition_id]),
    ):
        page = admin_client.get(url)
        assert page.status_code == 200, url
        assert TOKEN not in page.content.decode()


def test_a_transition_page_loads_its_notifications_channels_in_one_query(
    admin_client, make_monitor, record, receiver
):
    def queries_for_transition_page(channels: int) -> int:
        for number in range(channels):
            channel_create(name=f"hook {number}", kind="webhook", config={"url": receiver.url()})
        monitor = make_monitor(name=f"watched by {channels}")
        record(monitor, "FFF")
        transition = Notification.objects.filter(transition__monitor=monitor).first().transition
        assert Notification.objects.filter(transition=transition).count() == channels
        url = reverse("admin:alerts_transition_change", args=[transition.pk])
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(url).status_code == 200
        Channel.objects.filter(builtin__isnull=True).delete()
        return len(queries)

    queries_for_transition_page(1)  # the first request also loads the session and caches
    assert queries_for_transition_page(1) == queries_for_transition_page(4)
