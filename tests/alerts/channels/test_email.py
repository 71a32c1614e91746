"""Email channels against a real SMTP server on loopback: plain, STARTTLS and implicit TLS
(certificates from a private test CA), AUTH, several recipients, and what the mail says."""

from __future__ import annotations

import socket
from datetime import timedelta
from email.utils import parsedate_to_datetime

import pytest
from django.utils import timezone

from alerts.configuration import channel_create
from alerts.delivery import channel_send_test, notification_deliver
from alerts.models import Notification
from tests.alerts.conftest import email_channel
from tests.support.http_servers import issue_cert, new_ca, write_ca_bundle
from tests.support.smtp_server import LocalSmtpServer

pytestmark = pytest.mark.django_db

SECRET_HEADER = '{"Authorization": "Bearer s3cret-token-123"}'


@pytest.fixture
def ca():
    return new_ca()


@pytest.fixture
def trusted_ca(ca, tmp_path, alert_settings):
    alert_settings.ALERT_SMTP_CA_BUNDLE = write_ca_bundle(ca, tmp_path)
    return ca


def deliver_all(monitor) -> None:
    for notification in Notification.objects.filter(transition__monitor=monitor).order_by("id"):
        notification_deliver(notification.pk, now=notification.next_attempt_at)


def test_a_down_alert_mail_has_headers_both_parts_and_every_field(make_monitor, record):
    with LocalSmtpServer() as smtp:
        email_channel(smtp)
        monitor = make_monitor(
            name="shop", target="https://127.0.0.1:9/shop", rule="status == 200",
            properties={"method": "GET", "headers": SECRET_HEADER},
        )  # fmt: skip
        record(monitor, "FFF")
        went_down = Notification.objects.get(transition__monitor=monitor).transition

        deliver_all(monitor)

        [mail] = smtp.wait_for_mails(1)
    message = mail.message
    assert message["Subject"] == "NanoMon alert for: shop"
    assert message["From"] == "NanoMon <nanomon@example.org>"
    assert [a.addr_spec for a in message["To"].addresses] == ["ops@example.org", "dev@example.org"]
    assert sorted(mail.envelope_to) == ["dev@example.org", "ops@example.org"]
    sent_at = parsedate_to_datetime(message["Date"])
    assert abs(sent_at - timezone.now()) < timedelta(minutes=1)
    assert message["Message-ID"].endswith("@example.org>")
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "multipart/alternative"

    when = f"{went_down.happened_at:%Y-%m-%d %H:%M:%S} UTC"
    link = f"https://nanomon.example.org/monitors/{monitor.pk}"
    for body in (mail.part("text/plain"), mail.part("text/html")):
        assert "has failed" in body
        assert "3</b> times" in body or "3 times" in body
        assert "connection refused" in body
        assert when in body
        assert link in body
        assert "https://127.0.0.1:9/shop" in body
        assert "status == 200" in body
        assert "method" in body
        assert "s3cret-token-123" not in body
        assert "Authorization" in body
    text = mail.part("text/plain").replace("\r\n", "\n")
    html = mail.part("text/html")
    assert "Type:       http\n" in text
    assert "Interval:   30s\n" in text
    assert "<td>http</td>" in html
    assert "<td>30s</td>" in html
    assert '"Authorization": "••••••"' in text
    assert "&quot;Authorization&quot;: &quot;••••••&quot;" in html


def test_a_recovery_mail_follows_the_outage(make_monitor, record):
    with LocalSmtpServer() as smtp:
        email_channel(smtp)
        monitor = make_monitor(name="api")
        record(monitor, "EEE O")

        deliver_all(monitor)

        down, up = smtp.wait_for_mails(2)
    assert down.message["Subject"] == "NanoMon alert for: api"
    assert "Rule violated: status == 200" in down.part("text/plain")
    assert up.message["Subject"] == "NanoMon recovered: api"
    text = up.part("text/plain")
    assert "is OK again" in text
    assert "it was down since" in text
    assert up.message["Message-ID"] != down.message["Message-ID"]


def test_starttls_with_a_trusted_certificate_delivers(trusted_ca):
    with LocalSmtpServer(security="starttls", cert=issue_cert(trusted_ca)) as smtp:
        outcome = channel_send_test(email_channel(smtp, host="localhost"))

        assert outcome.succeeded, outcome.error
        [mail] = smtp.wait_for_mails(1)
    assert mail.message["Subject"] == "NanoMon test notification"


def test_starttls_refuses_a_certificate_nobody_trusts(ca):
    with LocalSmtpServer(security="starttls", cert=issue_cert(ca)) as smtp:
        outcome = channel_send_test(email_channel(smtp, host="localhost"))

        assert not outcome.succeeded
        assert outcome.error.startswith("TLS certificate verification failed")
        assert smtp.mails == []


def test_starttls_without_verification_delivers_to_a_self_signed_relay(ca):
    with LocalSmtpServer(security="starttls", cert=issue_cert(ca)) as smtp:
        outcome = channel_send_test(email_channel(smtp, verify_tls=False))

        assert outcome.succeeded, outcome.error
        assert len(smtp.wait_for_mails(1)) == 1


def test_an_unreadable_alert_smtp_ca_bundle_is_a_clear_delivery_error(ca, tmp_path, alert_settings):
    alert_settings.ALERT_SMTP_CA_BUNDLE = str(tmp_path / "missing.pem")
    with LocalSmtpServer(security="starttls", cert=issue_cert(ca)) as smtp:
        outcome = channel_send_test(email_channel(smtp, host="localhost"))

        assert not outcome.succeeded
        assert outcome.error.startswith("cannot load ALERT_SMTP_CA_BUNDLE: ")
        assert smtp.mails == []


def test_implicit_tls_delivers(trusted_ca):
    with LocalSmtpServer(security="tls", cert=issue_cert(trusted_ca)) as smtp:
        outcome = channel_send_test(email_channel(smtp, host="localhost"))

        assert outcome.succeeded, outcome.error
        assert len(smtp.wait_for_mails(1)) == 1


def test_auth_over_a_plain_connection_logs_in_with_the_username(alert_settings):
    with LocalSmtpServer(users={"alerts@example.org": "app-password"}) as smtp:
        channel = email_channel(smtp, username="alerts@example.org", password="app-password")

        outcome = channel_send_test(channel)

        assert outcome.succeeded, outcome.error
        [mail] = smtp.wait_for_mails(1)
    assert mail.authenticated_as == "alerts@example.org"


def test_auth_over_starttls_delivers(trusted_ca):
    with LocalSmtpServer(
        security="starttls", cert=issue_cert(trusted_ca), users={"bob": "pw"}
    ) as smtp:
        outcome = channel_send_test(
            email_channel(smtp, host="localhost", username="bob", password="pw")
        )

        assert outcome.succeeded, outcome.error
        assert smtp.wait_for_mails(1)[0].authenticated_as == "bob"


def test_a_wrong_password_is_reported_without_the_password(caplog):
    with LocalSmtpServer(users={"bob": "right"}) as smtp:
        outcome = channel_send_test(
            email_channel(smtp, username="bob", password="wrong-password-xyz")
        )

        assert (outcome.succeeded, outcome.error) == (False, "authentication failed (535)")
        assert smtp.mails == []
        assert smtp.auth_failures >= 1  # smtplib tries PLAIN, then LOGIN
    assert "wrong-password-xyz" not in caplog.text


def test_a_server_that_requires_auth_refuses_an_anonymous_sender():
    with LocalSmtpServer(users={"bob": "pw"}) as smtp:
        outcome = channel_send_test(email_channel(smtp))

        assert not outcome.succeeded
        assert "530" in outcome.error


def test_a_silent_server_times_out(alert_settings):
    alert_settings.ALERT_DELIVERY_TIMEOUT = 0.5
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never says hello
        channel = channel_create(
            name="silent",
            kind="email",
            config={
                "host": "127.0.0.1", "port": silent.getsockname()[1], "security": "none",
                "from_address": "a@example.org", "recipients": ["b@example.org"],
            },
        )  # fmt: skip

        outcome = channel_send_test(channel)

    assert (outcome.succeeded, outcome.error) == (False, "timed out after 0.5s")


def test_the_alert_smtp_variables_alone_send_the_alert(make_monitor, record, alert_settings):
    with LocalSmtpServer(users={"nanomon@example.org": "app-password"}) as smtp:
        alert_settings.ALERT_SMTP_HOST = "127.0.0.1"
        alert_settings.ALERT_SMTP_PORT = smtp.port
        alert_settings.ALERT_SMTP_SECURITY = "none"
        alert_settings.ALERT_SMTP_FROM = "nanomon@example.org"
        alert_settings.ALERT_SMTP_USERNAME = "nanomon@example.org"
        alert_settings.ALERT_SMTP_PASSWORD = "app-password"
        alert_settings.ALERT_SMTP_TO = ["one@example.org", "two@example.org"]
        monitor = make_monitor(name="router")
        record(monitor, "FFF O")

        deliver_all(monitor)

        down, up = smtp.wait_for_mails(2)
    assert down.message["Subject"] == "NanoMon alert for: router"
    assert up.message["Subject"] == "NanoMon recovered: router"
    assert sorted(down.envelope_to) == ["one@example.org", "two@example.org"]
    assert down.authenticated_as == "nanomon@example.org"


def test_a_monitor_name_with_a_line_break_cannot_inject_headers(make_monitor, record):
    with LocalSmtpServer() as smtp:
        email_channel(smtp)
        monitor = make_monitor(name="evil\r\nBcc: victim@example.org")
        record(monitor, "FFF")

        deliver_all(monitor)

        [mail] = smtp.wait_for_mails(1)
    assert mail.message["Bcc"] is None
    assert "victim@example.org" not in mail.envelope_to
    assert mail.message["Subject"] == "NanoMon alert for: evil Bcc: victim@example.org"
