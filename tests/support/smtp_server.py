"""A real SMTP server on loopback for the alerting tests (aiosmtpd in a background thread).

``LocalSmtpServer`` speaks plain SMTP, STARTTLS or implicit TLS (with a certificate from the
test PKI in ``tests.support.http_servers``), optionally with AUTH PLAIN/LOGIN against a dict
of users. Every message it accepts is parsed and kept in ``mails``. It can be created stopped
(its port refuses connections: "the SMTP server is down") and started later on the same
port, or stopped and started again::

    with LocalSmtpServer() as smtp:
        ...send to 127.0.0.1:smtp.port...
        [mail] = smtp.wait_for_mails(1)
        assert mail.message["Subject"] == "..."
"""

from __future__ import annotations

import email
import email.policy
import ssl
import threading
import warnings
from dataclasses import dataclass
from email.message import EmailMessage
from types import TracebackType
from typing import Literal

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.support.http_servers import refused_port, server_context
from tests.support.receivers import wait_for_items

Security = Literal["none", "starttls", "tls"]


@dataclass(frozen=True)
class ReceivedMail:
    """One accepted message: the envelope and the parsed message (``email.policy.default``)."""

    envelope_from: str
    envelope_to: list[str]
    message: EmailMessage
    raw: bytes
    authenticated_as: str | None

    def part(self, content_type: str) -> str:
        """The decoded text of the first ``content_type`` part (``text/plain``, ``text/html``)."""
        for part in self.message.walk():
            if part.get_content_type() == content_type:
                return part.get_content()
        raise LookupError(f"no {content_type} part")


class _Handler:
    def __init__(self, server: LocalSmtpServer) -> None:
        self._server = server

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd calls it so
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        login = session.auth_data.login.decode() if session.authenticated else None
        self._server._received(
            ReceivedMail(
                envelope_from=envelope.mail_from,
                envelope_to=list(envelope.rcpt_tos),
                message=message,
                raw=raw,
                authenticated_as=login,
            )
        )
        return "250 Message accepted for delivery"


class _Controller(Controller):
    def factory(self):
        # AUTH over a plain connection is what a test relay does on purpose; aiosmtpd warns
        # about it for every connection.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
            return super().factory()


class LocalSmtpServer:
    """An SMTP server on ``127.0.0.1``; ``security`` none, starttls or tls (needs ``cert``);
    ``users`` (login -> password) turns AUTH on and requires it. ``start=False``: created down."""

    def __init__(
        self,
        *,
        security: Security = "none",
        cert: trustme.LeafCert | None = None,
        users: dict[str, str] | None = None,
        port: int | None = None,
        start: bool = True,
    ) -> None:
        if security != "none" and cert is None:
            raise ValueError("a TLS server needs a certificate")
        self.host = "127.0.0.1"
        self.port = port or refused_port(self.host)
        self.security = security
        self.users = dict(users or {})
        self.mails: list[ReceivedMail] = []
        self.auth_failures = 0
        self._cert = cert
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._controller: Controller | None = None
        if start:
            self.start()

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start listening on ``port`` (again)."""
        if self._controller is not None:
            return
        context: ssl.SSLContext | None = server_context(self._cert) if self._cert else None
        options: dict[str, object] = {}
        if self.security == "starttls":
            options.update(tls_context=context, require_starttls=True)
        if self.users:
            options.update(
                authenticator=self._authenticate,
                auth_required=True,
                # Plain connections may AUTH too (a test relay): aiosmtpd refuses it by default.
                auth_require_tls=self.security != "none",
            )
        controller = _Controller(
            _Handler(self),
            hostname=self.host,
            port=self.port,
            ssl_context=context if self.security == "tls" else None,
            server_hostname="localhost",
            ready_timeout=5,
            **options,
        )
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        """Stop listening: new connections are refused ("the server is down")."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> LocalSmtpServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # --- what it received ------------------------------------------------------------------------

    def wait_for_mails(self, count: int, *, timeout: float = 10) -> list[ReceivedMail]:
        """The mails once at least ``count`` have arrived; AssertionError after ``timeout``."""
        return wait_for_items(self._arrived, self.mails, count, timeout=timeout, noun="mail")

    def _received(self, mail: ReceivedMail) -> None:
        with self._arrived:
            self.mails.append(mail)
            self._arrived.notify_all()

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            login = auth_data.login.decode()
            if login in self.users and self.users[login] == auth_data.password.decode():
                return AuthResult(success=True, auth_data=auth_data)
        with self._lock:
            self.auth_failures += 1
        return AuthResult(success=False, handled=False)
