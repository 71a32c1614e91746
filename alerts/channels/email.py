"""Email over SMTP: STARTTLS, implicit TLS or plain; with or without AUTH; many recipients.

One message per notification, to every recipient (all in To), with a plain-text and an HTML
part rendered from ``alerts/email/alert.txt`` and ``alerts/email/alert.html``. The Message-ID
is stable per notification (``<nanomon.notification.<id>@<from domain>>``), so the rare
duplicate of an at-least-once redelivery carries the same id and mail clients can fold it.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from email.utils import formatdate, parseaddr

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.core.mail.backends.smtp import EmailBackend
from django.core.validators import validate_email
from django.template.loader import render_to_string

from alerts.channels.base import (
    AlertMessage,
    ConfigField,
    DeliveryError,
    Transport,
    describe_network_error,
    timed_out,
)
from alerts.channels.templating import TEMPLATE_FIELDS, custom_body, custom_subject
from lib.tls import insecure_context, verifying_context

SECURITY_CHOICES = ("starttls", "tls", "none")


class _SmtpBackend(EmailBackend):
    """Django's SMTP backend with our TLS context (extra CA bundle, optional no-verify)."""

    def __init__(self, *, tls_context: ssl.SSLContext, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._tls_context = tls_context

    @property
    def ssl_context(self) -> ssl.SSLContext:  # Django reads this for STARTTLS and SMTPS
        return self._tls_context


def tls_context(*, verify: bool, ca_bundle: str = "") -> ssl.SSLContext:
    """The system's trust store plus ``ca_bundle`` (a PEM file); or no verification at all.

    The probes' shared contexts (``lib.tls``): built once per bundle path, not
    per mail. A changed bundle file is read again after a worker restart.
    """
    if not verify:
        return insecure_context()
    try:
        return verifying_context(ca_bundle or None)
    except (OSError, ssl.SSLError) as error:
        raise DeliveryError(f"cannot load ALERT_SMTP_CA_BUNDLE: {error}") from None


class EmailTransport(Transport):
    kind = "email"
    label = "Email (SMTP)"
    fields = (
        ConfigField("host", "SMTP host", "text", required=True, help="e.g. smtp.example.com"),
        ConfigField("port", "SMTP port", "int", default=587, minimum=1, maximum=65535),
        ConfigField(
            "security",
            "Security",
            "choice",
            default="starttls",
            choices=SECURITY_CHOICES,
            help="starttls (usually port 587), tls (implicit TLS, usually 465) or none.",
        ),
        ConfigField(
            "verify_tls",
            "Verify TLS certificate",
            "bool",
            default=True,
            help="Turn off only for a relay with a self-signed certificate you trust.",
        ),
        ConfigField("username", "Username", "text", help="Empty: no AUTH."),
        ConfigField("password", "Password", "password", secret=True),
        ConfigField(
            "from_address",
            "From",
            "text",
            required=True,
            help="An address, optionally with a name: NanoMon <alerts@example.com>",
        ),
        ConfigField(
            "recipients",
            "Recipients",
            "list",
            required=True,
            help="One or more addresses (one per line or comma-separated).",
        ),
        *TEMPLATE_FIELDS,
    )

    @classmethod
    def check_config(cls, config: Mapping[str, object]) -> dict[str, str]:
        errors: dict[str, str] = {}
        if not _valid_address(str(config.get("from_address", ""))):
            errors["from_address"] = "From must be an email address"
        bad = [item for item in config.get("recipients", []) if not _valid_address(item)]
        if bad:
            errors["recipients"] = f"not an email address: {', '.join(bad)}"
        return errors

    @classmethod
    def summary(cls, config: Mapping[str, object]) -> str:
        recipients = list(config.get("recipients") or [])
        shown = ", ".join(recipients[:2]) + (
            f" +{len(recipients) - 2}" if len(recipients) > 2 else ""
        )
        return f"{shown or 'no recipients'} via {config.get('host', '?')}:{config.get('port', '?')}"

    def send(self, message: AlertMessage, *, timeout: float) -> None:
        config = self.config
        security = str(config.get("security") or "starttls")
        connection = _SmtpBackend(
            host=str(config["host"]),
            port=int(config.get("port") or 587),
            username=str(config.get("username") or ""),
            password=str(config.get("password") or ""),
            use_tls=security == "starttls",
            use_ssl=security == "tls",
            timeout=timeout,
            fail_silently=False,
            tls_context=tls_context(
                verify=bool(config.get("verify_tls", True)),
                ca_bundle=getattr(settings, "ALERT_SMTP_CA_BUNDLE", ""),
            ),
        )
        from_address = str(config["from_address"])
        domain = parseaddr(from_address)[1].rpartition("@")[2] or "nanomon.localhost"
        subject, body, html = mail_texts(self.config, message)
        email = EmailMultiAlternatives(
            subject=subject,
            body=body,
            from_email=from_address,
            to=list(config["recipients"]),
            connection=connection,
            headers={
                "Date": formatdate(usegmt=True),
                "Message-ID": f"<nanomon.notification.{message.notification_id}@{domain}>",
                "Auto-Submitted": "auto-generated",  # RFC 3834: no auto-replies to alerts
                "X-NanoMon-Event": message.event,
            },
        )
        if html is not None:
            email.attach_alternative(html, "text/html")
        try:
            email.send(fail_silently=False)
        except smtplib.SMTPAuthenticationError as error:
            raise DeliveryError(f"authentication failed ({error.smtp_code})") from None
        except smtplib.SMTPRecipientsRefused as error:
            refused = ", ".join(
                f"{address} ({code})" for address, (code, _) in error.recipients.items()
            )
            raise DeliveryError(f"recipients refused: {refused}") from None
        except smtplib.SMTPSenderRefused as error:
            raise DeliveryError(f"sender refused ({error.smtp_code})") from None
        except smtplib.SMTPNotSupportedError as error:
            raise DeliveryError(f"server does not support it: {error}") from None
        except smtplib.SMTPServerDisconnected as error:
            # smtplib turns a read timeout into "Connection unexpectedly closed: timed out".
            if "timed out" in str(error):
                raise DeliveryError(timed_out(timeout)) from None
            raise DeliveryError("server disconnected") from None
        except smtplib.SMTPResponseException as error:
            text = error.smtp_error.decode(errors="replace") if error.smtp_error else ""
            raise DeliveryError(f"SMTP error {error.smtp_code}: {text[:200]}") from None
        except smtplib.SMTPException as error:
            raise DeliveryError(f"SMTP error: {str(error)[:200]}") from None
        except OSError as error:  # refused, timeout, DNS, TLS
            raise DeliveryError(describe_network_error(error, timeout=timeout)) from None


def mail_texts(config: Mapping[str, object], message: AlertMessage) -> tuple[str, str, str | None]:
    """Subject, text body and HTML body (None: none) of the mail for ``message``: the
    channel's templates where set (a templated body is sent as plain text only), NanoMon's
    otherwise (``alerts/email/alert.txt`` and ``alert.html``)."""
    subject = custom_subject(config, message) or message.subject
    body = custom_body(config, message)
    if body is not None:
        return subject, body, None
    context = {"message": message}
    return (
        subject,
        render_to_string("alerts/email/alert.txt", context),
        render_to_string("alerts/email/alert.html", context),
    )


def _valid_address(text: str) -> bool:
    address = parseaddr(text)[1]
    if not address:
        return False
    try:
        validate_email(address)
    except ValidationError:
        return False
    return True
