"""Helpers for the API's tests: a DRF token client for a user (``Authorization: Token …``, as
scripts do) and a valid monitor body in NanoMon's JSON shape.

The API's personas (the ``admin``, ``editor``, ``viewer``, ``anonymous`` and ``personas``
fixtures) are made with ``token_client`` in ``tests/conftest.py``.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient


def token_client(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def http_monitor(**fields) -> dict[str, object]:
    """A valid monitor body in NanoMon's JSON shape (a closed local port: nothing answers)."""
    body = {
        "name": "web",
        "type": "http",
        "interval": "30s",
        "target": "http://127.0.0.1:9/",
        "rule": "status == 200",
        "enabled": True,
        "properties": {"timeout": "2s"},
    }
    body.update(fields)
    return body
