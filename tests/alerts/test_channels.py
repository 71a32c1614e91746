"""Channels: config validation per kind, secrets masked everywhere they are shown, secrets kept
when an edit leaves them blank, and the built-in channel's rules."""

from __future__ import annotations

import logging

import pytest
from django.core.exceptions import ValidationError

from alerts.channels import REGISTRY
from alerts.channels.base import MASK, mask_url
from alerts.configuration import (
    builtin_channel_ensure,
    channel_create,
    channel_delete,
    channel_effective_config,
    channel_update,
)
from alerts.delivery import channel_send_test
from alerts.models import Channel
from alerts.selectors import channel_public_config, channel_summary
from tests.support.http_servers import refused_port

pytestmark = pytest.mark.django_db

EMAIL = {
    "host": "smtp.example.org",
    "port": "465",
    "security": "tls",
    "username": "alerts",
    "password": "smtp-pass-123",
    "from_address": "NanoMon <alerts@example.org>",
    "recipients": "a@example.org, b@example.org\nc@example.org",
}
WEBHOOK = {
    "url": "https://hooks.example.org/services/T000/B000/hook-token-456?key=k-789-secret",
    "method": "POST",
    "headers": {"Authorization": "Bearer header-token-000"},
}
APPRISE = {
    "urls": [
        "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ",
        "tgram://123456789:AAbbCCddEEffGGhhIIjjKKllMMnnOOppQQr/12345",
    ]
}
SECRETS = [
    "smtp-pass-123",
    "hook-token-456",
    "k-789-secret",
    "header-token-000",
    "TIiajkdnlazkcOXrIdevi7FQ",
    "AAbbCCddEEffGGhhIIjjKKllMMnnOOppQQr",
    "bot-token-111",
]


def all_channels() -> list[Channel]:
    return [
        channel_create(name="mail", kind="email", config=EMAIL),
        channel_create(name="hook", kind="webhook", config=WEBHOOK),
        channel_create(name="chat", kind="apprise", config=APPRISE),
    ]


def test_configs_are_normalised_on_save():
    mail, hook, chat = all_channels()

    assert mail.config["port"] == 465
    assert mail.config["recipients"] == ["a@example.org", "b@example.org", "c@example.org"]
    assert mail.config["verify_tls"] is True
    assert hook.config["verify_tls"] is True
    assert channel_effective_config(chat)["urls"] == APPRISE["urls"]


def test_public_configs_and_summaries_mask_every_secret():
    mail, hook, chat = all_channels()

    assert channel_public_config(mail)["password"] == MASK
    assert channel_public_config(hook)["url"] == f"https://hooks.example.org/{MASK}"
    assert channel_public_config(hook)["headers"] == {"Authorization": MASK}
    assert channel_public_config(chat)["urls"] == [f"slack://{MASK}", f"tgram://{MASK}"]
    shown = " ".join(
        str(channel_public_config(c)) + channel_summary(c) + str(c) for c in (mail, hook, chat)
    )
    assert not [secret for secret in SECRETS if secret in shown]
    assert channel_summary(mail) == "a@example.org, b@example.org +1 via smtp.example.org:465"
    assert channel_summary(chat) == "slack://, tgram://"


def test_an_edit_that_leaves_secrets_blank_or_masked_keeps_them():
    mail, hook, chat = all_channels()

    channel_update(mail, config={**EMAIL, "password": "", "host": "smtp2.example.org"})
    channel_update(hook, config=channel_public_config(hook) | {"method": "GET"})
    channel_update(chat, config={"urls": ""})

    mail.refresh_from_db()
    hook.refresh_from_db()
    chat.refresh_from_db()
    mail_config, hook_config = channel_effective_config(mail), channel_effective_config(hook)
    assert (mail_config["password"], mail_config["host"]) == ("smtp-pass-123", "smtp2.example.org")
    assert hook_config["url"] == WEBHOOK["url"]
    assert hook_config["headers"] == WEBHOOK["headers"]
    assert hook_config["method"] == "GET"
    assert channel_effective_config(chat)["urls"] == APPRISE["urls"]


def test_changing_the_kind_keeps_nothing_of_the_old_config():
    mail = channel_create(name="mail", kind="email", config=EMAIL)

    with pytest.raises(ValidationError) as refused:
        channel_update(mail, kind="webhook", config={})
    assert "url" in refused.value.message_dict

    channel_update(mail, kind="webhook", config={"url": "http://127.0.0.1:9/"})
    assert "password" not in Channel.objects.get(pk=mail.pk).config


@pytest.mark.parametrize(
    ("kind", "config", "field", "message"),
    [
        ("email", {**EMAIL, "host": ""}, "host", "SMTP host is required"),
        ("email", {**EMAIL, "port": "70000"}, "port", "at most 65535"),
        ("email", {**EMAIL, "port": "smtp"}, "port", "whole number"),
        ("email", {**EMAIL, "security": "ssl"}, "security", "starttls, tls, none"),
        ("email", {**EMAIL, "from_address": "nobody"}, "from_address", "email address"),
        ("email", {**EMAIL, "recipients": "a@example.org, oops"}, "recipients", "oops"),
        ("email", {**EMAIL, "recipients": ""}, "recipients", "required"),
        ("apprise", {"urls": []}, "urls", "required"),
    ],
)
def test_a_bad_config_is_refused_naming_the_field(kind, config, field, message):
    with pytest.raises(ValidationError) as refused:
        channel_create(name="bad", kind=kind, config=config)

    assert message in " ".join(refused.value.message_dict[field])
    assert not Channel.objects.filter(name="bad").exists()


def test_an_unknown_kind_is_refused():
    with pytest.raises(ValidationError) as refused:
        channel_create(name="bad", kind="pigeon", config={})

    assert "kind" in refused.value.message_dict


def test_every_kind_declares_its_secret_fields():
    secret = {kind: [f.name for f in t.fields if f.secret] for kind, t in REGISTRY.items()}

    assert secret == {"email": ["password"], "webhook": ["url", "headers"], "apprise": ["urls"]}


def test_urls_are_masked_down_to_scheme_and_host():
    assert mask_url("https://user:pw@example.org:8443/a?b=c") == f"https://example.org:8443/{MASK}"
    assert mask_url("http://[::1]:8080/") == "http://[::1]:8080/"
    assert mask_url("ntfy://topic") == f"ntfy://{MASK}"
    assert mask_url("not a url") == MASK


def test_the_builtin_channel_cannot_be_deleted_or_reconfigured(alert_settings):
    builtin = builtin_channel_ensure()

    with pytest.raises(ValidationError):
        channel_delete(builtin)
    with pytest.raises(ValidationError):
        channel_update(builtin, config={"host": "elsewhere"})
    channel_update(builtin, enabled=False, name="Ops mail")

    builtin.refresh_from_db()
    assert (builtin.name, builtin.enabled, builtin.config) == ("Ops mail", False, {})


def test_the_builtin_channel_shows_the_alert_smtp_settings_masked(alert_settings):
    alert_settings.ALERT_SMTP_FROM = "nanomon@example.org"
    alert_settings.ALERT_SMTP_PASSWORD = "env-password-321"
    alert_settings.ALERT_SMTP_TO = ["ops@example.org"]
    builtin = builtin_channel_ensure()

    config = channel_public_config(builtin)

    assert config["password"] == MASK
    assert config["recipients"] == ["ops@example.org"]
    assert channel_summary(builtin).startswith("from ALERT_SMTP_*: ops@example.org via 127.0.0.1")


def test_logs_of_deliveries_never_hold_a_secret_even_at_debug_level(caplog, receiver):
    caplog.set_level(logging.DEBUG)
    port = refused_port()
    secret_path = "/hook-token-456?key=k-789-secret"
    channels = [
        channel_create(
            name="mail", kind="email", config={**EMAIL, "host": "127.0.0.1", "port": port}
        ),
        channel_create(
            name="dead hook",
            kind="webhook",
            config={"url": f"http://127.0.0.1:{port}{secret_path}"},
        ),
        channel_create(
            name="hook", kind="webhook", config={**WEBHOOK, "url": receiver.url(secret_path)}
        ),
        channel_create(
            name="chat",
            kind="apprise",
            config={"urls": [f"json://{receiver.address}/bot-token-111/tokenA"]},
        ),
    ]

    outcomes = [channel_send_test(channel) for channel in channels]

    assert [outcome.error for outcome in outcomes] == ["connection refused"] * 2 + ["", ""]
    assert len(receiver.wait_for(2)) == 2
    logged = caplog.text
    assert not [secret for secret in SECRETS if secret in logged]
