"""Webhooks: gosrvmon's GET URL with placeholders, or a POST with a JSON body and headers.

Placeholders, in the URL and in a POST body template, are gosrvmon's

=============  =====================================================================
``{HOST}``     the monitor's target
``{STATE}``    ``down`` or ``up`` (``test`` for a test notification)
``{TIME}``     when it happened, as gosrvmon writes it: ``2026-11-21 12:00:00 +0000 UTC``
``{TIMESTAMP}`` the same as Unix seconds
``{RTT}``      the run's value in ms when up; when down, the monitor's ``timeout`` in ms
               (as gosrvmon: a host that went offline reports the timeout, not 0)
``{RTTSTR}``   the same with a unit: ``12.5ms``, ``5s``
``{UP}``       ``true`` when up, else ``false``
``{DOWN}``     ``true`` when down, else ``false``
=============  =====================================================================

plus NanoMon's ``{NAME}``, ``{REASON}``, ``{EVENT}`` (down, up, reminder, test), ``{LINK}``,
``{FAILURES}``, ``{ID}``, and ``{SUBJECT}`` / ``{MESSAGE}``: the channel's subject and message
templates rendered (``alerts.channels.templating``; without them NanoMon's subject and its
one sentence). In the URL the values are URL-encoded; in a POST body they are
JSON-string-escaped (write ``"{NAME}"`` with the quotes). A POST without a body template sends
the default payload of ``default_payload``. Any 2xx answer is success.
"""

from __future__ import annotations

import json
import re
import socket
import ssl
from collections.abc import Mapping
from datetime import UTC
from urllib.parse import quote, urlsplit

import requests
import urllib3.connection
import urllib3.connectionpool
import urllib3.exceptions
from django.conf import settings
from requests.adapters import HTTPAdapter
from requests.utils import select_proxy
from urllib3.util.connection import allowed_gai_family

from alerts.channels.base import (
    AlertMessage,
    ConfigField,
    DeliveryError,
    Transport,
    describe_network_error,
    mask_url,
    timed_out,
)
from alerts.channels.templating import TEMPLATE_FIELDS, custom_body, custom_subject
from lib.durations import format_seconds
from monitors import netpolicy
from monitors.probes import REGISTRY
from monitors.probes.base import PropertyError

PLACEHOLDER = re.compile(
    r"\{(HOST|STATE|TIME|TIMESTAMP|RTT|RTTSTR|UP|DOWN|NAME|REASON|EVENT|LINK|FAILURES|ID"
    r"|SUBJECT|MESSAGE)\}"
)
MAX_REDIRECTS = 3
RESPONSE_SNIPPET = 200


def placeholder_values(
    message: AlertMessage, config: Mapping[str, object] | None = None
) -> dict[str, str]:
    """The value of each placeholder for ``message`` (not yet encoded); ``config``: the
    channel's, for its message templates."""
    title, text = webhook_texts(config or {}, message)
    when = message.happened_at.astimezone(UTC)
    value = rtt_milliseconds(message)
    return {
        "HOST": message.target,
        "STATE": message.state,
        "TIME": f"{when:%Y-%m-%d %H:%M:%S} +0000 UTC",
        "TIMESTAMP": str(int(when.timestamp())),
        "RTT": f"{value:g}",
        "RTTSTR": format_seconds(value / 1000),
        "UP": "true" if message.state == "up" else "false",
        "DOWN": "true" if message.state == "down" else "false",
        "NAME": message.monitor_name,
        "REASON": message.reason,
        "EVENT": message.event,
        "LINK": message.link,
        "FAILURES": str(message.failures),
        "ID": "" if message.monitor_id is None else str(message.monitor_id),
        "SUBJECT": title,
        "MESSAGE": text,
    }


def webhook_texts(config: Mapping[str, object], message: AlertMessage) -> tuple[str, str]:
    """``{SUBJECT}`` and ``{MESSAGE}``: the channel's templates rendered, or NanoMon's
    subject and one sentence."""
    title = custom_subject(config, message) or message.subject
    text = custom_body(config, message)
    return title, message.summary if text is None else text


def rtt_milliseconds(message: AlertMessage) -> float:
    """``{RTT}``: the run's value, but on a down event (and its reminders) the monitor's
    ``timeout`` in ms, as gosrvmon reports a host that went offline. A type without a
    ``timeout`` property (push) keeps the run's value."""
    if message.state == "down":
        timeout = timeout_seconds(message.kind, message.properties)
        if timeout is not None:
            return round(timeout * 1000, 3)
    return message.value or 0.0


def timeout_seconds(kind: str, properties: Mapping[str, object]) -> float | None:
    """The ``timeout`` property of a monitor of ``kind`` in seconds (its default when not
    set), or None when the type has none or the stored value no longer parses."""
    probe = REGISTRY.get(kind)
    if probe is None:
        return None
    try:
        spec = probe.property("timeout")
    except PropertyError:
        return None
    raw = properties.get("timeout") or spec.default
    if raw is None:
        return None
    try:
        return float(spec.convert(str(raw)))  # type: ignore[arg-type]
    except PropertyError:
        return None


def render_url(
    template: str, message: AlertMessage, config: Mapping[str, object] | None = None
) -> str:
    values = placeholder_values(message, config)
    return PLACEHOLDER.sub(lambda match: quote(values[match.group(1)], safe=""), template)


def render_body(
    template: str, message: AlertMessage, config: Mapping[str, object] | None = None
) -> str:
    values = placeholder_values(message, config)
    return PLACEHOLDER.sub(lambda match: json.dumps(values[match.group(1)])[1:-1], template)


def default_payload(
    message: AlertMessage, config: Mapping[str, object] | None = None
) -> dict[str, object]:
    """The JSON a POST webhook gets without a body template. With the channel's message
    templates (``config``), ``text`` is the rendered message and ``title`` the subject."""
    when = message.happened_at.astimezone(UTC)
    payload: dict[str, object] = {
        "event": message.event,
        "state": message.state,
        "up": message.state == "up",
        "down": message.state == "down",
        "text": message.summary,
        "monitor": {
            "id": message.monitor_id,
            "name": message.monitor_name,
            "type": message.kind,
            "target": message.target,
            "interval": message.interval,
            "rule": message.rule,
            "properties": dict(message.properties),
            "url": message.link,
        },
        "failures": message.failures,
        "reason": message.reason,
        "time": when.isoformat().replace("+00:00", "Z"),
        "timestamp": int(when.timestamp()),
        "rtt": message.value,
        "reminder": message.reminder_number,
    }
    subject = custom_subject(config or {}, message)
    if subject is not None:
        payload["title"] = subject
    text = custom_body(config or {}, message)
    if text is not None:
        payload["text"] = text
    return payload


class WebhookTransport(Transport):
    kind = "webhook"
    label = "Webhook"
    fields = (
        ConfigField(
            "url",
            "URL",
            "url",
            required=True,
            secret=True,
            help="http(s) URL; may hold placeholders such as {HOST} and {STATE}.",
        ),
        ConfigField("method", "Method", "choice", default="GET", choices=("GET", "POST")),
        ConfigField(
            "body",
            "Body template (POST)",
            "template",
            help='JSON with placeholders, e.g. {"text": "{NAME} is {STATE}"}. '
            "Empty: the default payload.",
        ),
        ConfigField(
            "headers",
            "Headers",
            "headers",
            secret=True,
            help='A JSON object, e.g. {"Authorization": "Bearer …"}.',
        ),
        ConfigField("verify_tls", "Verify TLS certificate", "bool", default=True),
        *TEMPLATE_FIELDS,
    )

    @classmethod
    def check_config(cls, config: Mapping[str, object]) -> dict[str, str]:
        errors: dict[str, str] = {}
        try:
            parts = urlsplit(PLACEHOLDER.sub("x", str(config.get("url", ""))))
            valid = parts.scheme in {"http", "https"} and bool(parts.hostname)
        except ValueError:
            valid = False
        if not valid:
            errors["url"] = "URL must be an http:// or https:// URL with a host"
        if config.get("body") and config.get("method") != "POST":
            errors["body"] = "a body template is sent only with POST"
        return errors

    @classmethod
    def summary(cls, config: Mapping[str, object]) -> str:
        return f"{config.get('method', 'GET')} {mask_url(str(config.get('url', '')))}"

    def send(self, message: AlertMessage, *, timeout: float) -> None:
        config = self.config
        method = str(config.get("method") or "GET")
        url = render_url(str(config["url"]), message, config)
        headers = {"User-Agent": f"NanoMon/{settings.VERSION}"}
        headers.update(dict(config.get("headers") or {}))
        data: bytes | None = None
        if method == "POST":
            template = str(config.get("body") or "")
            body = (
                render_body(template, message, config)
                if template
                else json.dumps(default_payload(message, config))
            )
            data = body.encode()
            if not any(name.lower() == "content-type" for name in headers):
                headers["Content-Type"] = "application/json"
        with requests.Session() as session:
            session.max_redirects = MAX_REDIRECTS
            session.trust_env = True  # honours REQUESTS_CA_BUNDLE and proxy variables
            # Only where the probe network policy allows, on every redirect too.
            session.mount("http://", PolicyAdapter())
            session.mount("https://", PolicyAdapter())
            try:
                response = session.request(
                    method,
                    url,
                    data=data,
                    headers=headers,
                    timeout=(timeout, timeout),
                    verify=bool(config.get("verify_tls", True)),
                    stream=True,
                )
            except netpolicy.PolicyDenied as error:
                raise DeliveryError(str(error)) from None
            except requests.Timeout:
                raise DeliveryError(timed_out(timeout)) from None
            except requests.TooManyRedirects:
                raise DeliveryError(f"more than {MAX_REDIRECTS} redirects") from None
            except requests.ConnectionError as error:
                raise DeliveryError(_connection_error(error, timeout)) from None
            except requests.RequestException as error:
                raise DeliveryError(f"request failed: {error.__class__.__name__}") from None
            with response:
                if 200 <= response.status_code < 300:
                    return
                try:
                    snippet = response.raw.read(RESPONSE_SNIPPET, decode_content=True)
                except Exception:  # a broken body does not change the verdict
                    snippet = b""
                text = " ".join(snippet.decode(errors="replace").split())
                raise DeliveryError(f"HTTP {response.status_code}" + (f": {text}" if text else ""))


# --- The probe network policy (monitors/netpolicy.py) for webhooks -------------------------------


class _PolicyConnectionMixin:
    """A urllib3 connection that connects only to the addresses of its host that the probe
    network policy allows: it resolves the host itself, filters the addresses, and tries the
    ones left in order, as urllib3's ``create_connection`` does. Nothing is sent (not even a
    SYN) to a refused address."""

    def _new_conn(self):
        host = self._dns_host.strip("[]")
        policy = netpolicy.current()
        policy.check_name(host)
        try:
            resolved = socket.getaddrinfo(host, self.port, allowed_gai_family(), socket.SOCK_STREAM)
        except socket.gaierror as error:
            raise urllib3.exceptions.NameResolutionError(self.host, self, error) from error
        allowed = policy.permitted(host, resolved, lambda info: info[4][0])
        last_error: OSError | None = None
        for family, kind, proto, _canonical, address in allowed:
            sock = socket.socket(family, kind, proto)
            try:
                for option in self.socket_options or ():
                    sock.setsockopt(*option)
                if isinstance(self.timeout, int | float) or self.timeout is None:
                    sock.settimeout(self.timeout)
                if self.source_address:
                    sock.bind(self.source_address)
                sock.connect(address)
            except TimeoutError as error:
                sock.close()
                raise urllib3.exceptions.ConnectTimeoutError(
                    self, f"timed out (connect timeout={self.timeout})"
                ) from error
            except OSError as error:
                sock.close()
                last_error = error
                continue
            return sock
        raise urllib3.exceptions.NewConnectionError(
            self, f"Failed to establish a new connection: {last_error}"
        ) from last_error


class _PolicyHTTPConnection(_PolicyConnectionMixin, urllib3.connection.HTTPConnection):
    pass


class _PolicyHTTPSConnection(_PolicyConnectionMixin, urllib3.connection.HTTPSConnection):
    pass


class _PolicyHTTPConnectionPool(urllib3.connectionpool.HTTPConnectionPool):
    ConnectionCls = _PolicyHTTPConnection


class _PolicyHTTPSConnectionPool(urllib3.connectionpool.HTTPSConnectionPool):
    ConnectionCls = _PolicyHTTPSConnection


class PolicyAdapter(HTTPAdapter):
    """requests' adapter under the probe network policy. ``send`` runs for the first request
    and for every redirect (requests' ``resolve_redirects``): a host denied by name, or an
    address literal, is refused there; a direct connection checks the addresses it connects
    to (``_PolicyConnectionMixin``). Through a proxy (``HTTPS_PROXY``…) the proxy connects, so
    the host is resolved here and refused when every address it has is refused (or, with
    ``NANOMON_PROBE_ALLOW`` set, when it cannot be resolved here to be checked)."""

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _PolicyHTTPConnectionPool,
            "https": _PolicyHTTPSConnectionPool,
        }

    def send(self, request, *args, **kwargs):
        host = urlsplit(request.url).hostname or ""
        policy = netpolicy.current()
        policy.check_name(host)
        if select_proxy(request.url, kwargs.get("proxies")):
            _check_proxied_host(policy, host)
        return super().send(request, *args, **kwargs)


def _check_proxied_host(policy: netpolicy.NetworkPolicy, host: str) -> None:
    try:
        resolved = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        if policy.allow and not policy.allow.has_name(host):
            raise netpolicy.PolicyDenied(
                f"host {host} cannot be resolved here to be checked against "
                f"{netpolicy.ALLOW_VARIABLE}"
            ) from None
        return
    policy.permitted(host, resolved, lambda info: info[4][0])


def _connection_error(error: requests.ConnectionError, timeout: float) -> str:
    """The root cause of a requests connection error, without the URL its text carries."""
    for cause in _causes(error):
        if isinstance(cause, ssl.SSLError | ConnectionError | socket.gaierror | TimeoutError):
            return describe_network_error(cause, timeout=timeout)
        if cause.__class__.__name__ == "NameResolutionError":
            return "could not resolve host"
    return "connection failed"


def _causes(error: BaseException) -> list[BaseException]:
    """``error`` and everything it wraps (args, causes, urllib3's ``reason``), each once."""
    found: list[BaseException] = []
    stack: list[BaseException] = [error]
    while stack:
        current = stack.pop()
        if any(current is seen for seen in found):
            continue
        found.append(current)
        linked = [*getattr(current, "args", ()), current.__cause__, current.__context__]
        linked.append(getattr(current, "reason", None))
        stack.extend(item for item in linked if isinstance(item, BaseException))
    return found
