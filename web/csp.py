"""``Content-Security-Policy`` on every response: scripts and styles from this server only.

An inline ``<script>`` or ``<style>`` runs only with the request's nonce
(``request.csp_nonce``, in templates ``{{ request.csp_nonce }}``): the page layout's status
colours and the API docs' (Swagger UI) bootstrap carry it. Nothing else inline runs: no event
handler attributes, no ``javascript:`` URLs, no ``eval`` (htmx runs with ``allowEval: false``).

``style="…"`` attributes are refused too, except the few fixed ones that pages outside our
templates write, allowed by their hash (``'unsafe-hashes'``: exactly these values, nothing
else): DRF's browsable API and sign-in page, and the status badges of the Django admin
(``lib.status.status_badge``, one per status colour).

Images may also be ``data:`` URLs (Swagger UI's icons); nothing is loaded from another
origin, no plugin (``object-src 'none'``), no ``<base>``, and no page may be framed
(``frame-ancestors 'none'``, as ``X-Frame-Options: DENY``). Form targets are not limited:
signing in and out with single sign-on redirects a form's POST to the provider.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from lib.status import DISABLED_STYLE, STATUS_STYLE

HEADER = "Content-Security-Policy"

# style="…" values written by templates that are not ours (DRF 3.18's rest_framework/base.html,
# admin.html and login_base.html; tests/web/browser/test_csp.py opens those pages).
THIRD_PARTY_STYLE_ATTRIBUTES = (
    "float: right; margin-right: 10px",
    "float:left",
    "float: right",
    "clear: both",
    "margin-top: 30px",
    "width: 320px; margin-left: auto; margin-right: auto",
    "margin: 0 0 20px;",
)


def style_attribute_values() -> tuple[str, ...]:
    """Every ``style`` attribute value a page may carry."""
    badges = {f"color:{colour}" for _, colour in (*STATUS_STYLE.values(), DISABLED_STYLE)}
    return (*THIRD_PARTY_STYLE_ATTRIBUTES, *sorted(badges))


def source_hash(text: str) -> str:
    """A CSP hash source for ``text``: ``'sha256-<base64>'``."""
    digest = hashlib.sha256(text.encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


_STYLE_ATTRIBUTE_SOURCES = " ".join(source_hash(value) for value in style_attribute_values())


def policy(nonce: str) -> str:
    """The header's value for a response whose inline scripts and styles carry ``nonce``."""
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' 'nonce-{nonce}'",
            f"style-src 'self' 'nonce-{nonce}'",
            f"style-src-attr 'unsafe-hashes' {_STYLE_ATTRIBUTE_SOURCES}",
            "img-src 'self' data:",
            "font-src 'self'",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ]
    )


class ContentSecurityPolicyMiddleware:
    """Gives each request a nonce and each response the policy (unless a view set its own)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.csp_nonce = nonce = secrets.token_urlsafe(18)
        response = self.get_response(request)
        if HEADER not in response:
            response[HEADER] = policy(nonce)
        return response
