"""Alert channels' secrets at rest (docs/security.md): the SMTP password, a webhook's URL and
headers, Apprise URLs are stored sealed (``enc:v1:…``), still masked as before (a URL's host
kept), opened only for the sender: a real SMTP server with AUTH and a webhook receiver get
them. A key that opens nothing is a failed attempt saying so. ``manage.py secrets_rotate``
moves every secret (monitors' too) to the first key; the migration seals plaintext rows."""

from __future__ import annotations

import importlib
import io
import json

import pytest
from cryptography.fernet import Fernet
from django.apps import apps as django_apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from alerts.configuration import channel_create
from alerts.delivery import channel_send_test
from alerts.models import Channel
from alerts.selectors import channel_public_config, channel_summary
from lib.secrets_at_rest import PREFIX, Keyring, SecretsKeyError
from monitors.engine import CheckStatus, run_checks_sync
from monitors.models import Monitor
from tests.support.receivers import WebhookReceiver
from tests.support.smtp_server import LocalSmtpServer

PASSWORD = "smtp-pa55-word"
HOOK_TOKEN = "hook-t0ken-in-path"
HEADER_VALUE = "Bearer hook-header-secret"
APPRISE_URL = "json://127.0.0.1:9/apprise-secret-path"
KEY_ONE, KEY_TWO = Fernet.generate_key().decode(), Fernet.generate_key().decode()


@pytest.fixture(autouse=True)
def one_key(settings):
    settings.NANOMON_SECRETS_KEYS = (KEY_ONE,)
    settings.NANOMON_SECRETS_KEY_DERIVED = False


def raw_config(channel_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT config::text FROM alerts_channel WHERE id = %s", [channel_id])
        return cursor.fetchone()[0]


def mail_channel(smtp: LocalSmtpServer) -> Channel:
    return channel_create(
        name="mail",
        kind="email",
        config={
            "host": "127.0.0.1",
            "port": smtp.port,
            "security": "none",
            "username": "bot",
            "password": PASSWORD,
            "from_address": "nanomon@example.org",
            "recipients": ["ops@example.org"],
        },
    )


def hook_channel(receiver: WebhookReceiver) -> Channel:
    return channel_create(
        name="hook",
        kind="webhook",
        config={
            "url": receiver.url(f"/hook/{HOOK_TOKEN}?state={{STATE}}"),
            "headers": {"Authorization": HEADER_VALUE},
        },
    )


@pytest.mark.django_db
def test_channel_secrets_are_stored_sealed_masked_as_before_and_sent_in_plaintext():
    with LocalSmtpServer(users={"bot": PASSWORD}) as smtp, WebhookReceiver() as receiver:
        mail, hook = mail_channel(smtp), hook_channel(receiver)
        chat = channel_create(name="chat", kind="apprise", config={"urls": [APPRISE_URL]})
        stored = [raw_config(channel.pk) for channel in (mail, hook, chat)]
        sent = [channel_send_test(mail), channel_send_test(hook)]
        [mailed] = smtp.wait_for_mails(1)
        [request] = receiver.wait_for(1)
        address = receiver.address

    for text in stored:
        assert not [s for s in (PASSWORD, HOOK_TOKEN, HEADER_VALUE, APPRISE_URL) if s in text]
        assert PREFIX in text
    assert json.loads(stored[0])["host"] == "127.0.0.1"  # other settings as written
    assert [outcome.succeeded for outcome in sent] == [True, True], sent
    assert (mailed.authenticated_as, mailed.envelope_to) == ("bot", ["ops@example.org"])
    assert HOOK_TOKEN in request.path
    assert request.headers["Authorization"] == HEADER_VALUE
    # Masks as before: a URL's scheme and host, header names; summaries too.
    hook_shown = channel_public_config(hook)
    assert hook_shown["url"] == f"http://{address}/••••••"
    assert hook_shown["headers"] == {"Authorization": "••••••"}
    assert channel_public_config(mail)["password"] == "••••••"
    assert channel_public_config(chat)["urls"] == ["json://••••••"]
    assert channel_summary(chat) == "json://"
    assert channel_summary(hook) == f"GET http://{address}/••••••"


@pytest.mark.django_db
def test_a_key_that_opens_nothing_is_a_failed_attempt_saying_so(settings):
    with WebhookReceiver() as receiver:
        hook = hook_channel(receiver)
        settings.NANOMON_SECRETS_KEYS = (KEY_TWO,)
        outcome = channel_send_test(hook)
        assert receiver.requests == []

    assert not outcome.succeeded
    assert outcome.error == (
        "channel settings: the secret cannot be decrypted: no key in NANOMON_SECRETS_KEY opens it"
    )
    hook.refresh_from_db()
    assert hook.failures_in_row == 1
    assert channel_public_config(hook)["url"] == "••••••"  # still shown, masked


@pytest.mark.django_db
def test_secrets_rotate_moves_every_secret_to_the_first_key(settings, make_monitor):
    with WebhookReceiver() as receiver:
        hook = hook_channel(receiver)
        monitor = make_monitor(
            target=receiver.url("/probe"),
            properties={"headers": json.dumps({"Authorization": HEADER_VALUE})},
        )
        settings.NANOMON_SECRETS_KEYS = (KEY_TWO, KEY_ONE)  # a new first key, the old one kept
        output = io.StringIO()

        call_command("secrets_rotate", stdout=output)

        settings.NANOMON_SECRETS_KEYS = (KEY_TWO,)  # the old key removed
        sent = channel_send_test(Channel.objects.get(pk=hook.pk))
        [result] = run_checks_sync([Monitor.objects.get(pk=monitor.pk).check_request()], 1)
        requests = receiver.wait_for(2)

    assert output.getvalue().splitlines() == [
        "monitors: 1/1 rows checked",
        "channels: 2/2 rows checked",  # and the built-in one, without secrets
        "re-encrypted with the first key: 1 monitor(s), 1 alert channel(s)",
    ]
    assert sent.succeeded, sent.error
    assert result.status == CheckStatus.OK, result.message
    assert {request.headers["Authorization"] for request in requests} == {HEADER_VALUE}
    sealed = json.loads(raw_config(hook.pk))["url"]
    assert Keyring([KEY_TWO]).open(sealed).strip('"').endswith("state={STATE}")
    with pytest.raises(SecretsKeyError):
        Keyring([KEY_ONE]).open(sealed)


@pytest.mark.django_db
def test_secrets_rotate_moves_secrets_sealed_with_the_derived_key_and_names_what_it_cannot(
    settings,
):
    from lib.secrets_at_rest import derived_key

    settings.NANOMON_SECRETS_KEYS = (derived_key(settings.SECRET_KEY),)  # no variable set
    with WebhookReceiver() as receiver:
        hook = hook_channel(receiver)
    lost = channel_create(name="lost", kind="email", config={"host": "h", "password": "x" * 8,
        "from_address": "a@example.org", "recipients": ["b@example.org"]})  # fmt: skip
    Channel.objects.filter(pk=lost.pk).update(
        config={**lost.config, "password": Keyring([KEY_TWO]).seal('"unknown key"')}
    )
    settings.NANOMON_SECRETS_KEYS = (KEY_ONE,)  # the variable set: the derived key still opens

    with pytest.raises(CommandError, match=rf"1 alert channel\(s\) \(ids {lost.pk}\)"):
        call_command("secrets_rotate", stdout=io.StringIO())

    assert Keyring([KEY_ONE]).open(json.loads(raw_config(hook.pk))["url"])


@pytest.mark.django_db
def test_the_migration_seals_channel_secrets_stored_in_plaintext():
    with WebhookReceiver() as receiver:
        hook = hook_channel(receiver)
        plain = {**Channel.objects.get(pk=hook.pk).config}
        plain["url"] = receiver.url(f"/hook/{HOOK_TOKEN}")
        plain["headers"] = {"Authorization": HEADER_VALUE}
        Channel.objects.filter(pk=hook.pk).update(config=plain)  # as before the migration
        migration = importlib.import_module("alerts.migrations.0004_seal_channel_secrets")

        migration.seal(django_apps, None)
        sent = channel_send_test(Channel.objects.get(pk=hook.pk))
        [request] = receiver.wait_for(1)

    text = raw_config(hook.pk)
    assert HOOK_TOKEN not in text
    assert HEADER_VALUE not in text
    assert sent.succeeded
    assert HOOK_TOKEN in request.path
    migration.unseal(django_apps, None)
    assert json.loads(raw_config(hook.pk)) == plain
