"""Personas for the API: admin, editor, viewer and anonymous, each with a client.

Signed-in personas use DRF tokens (``Authorization: Token …``), as scripts do; session
sign-in (with CSRF) has its own tests.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient


def token_client(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def admin(admin_user) -> APIClient:
    return token_client(admin_user)


@pytest.fixture
def editor(editor_user) -> APIClient:
    return token_client(editor_user)


@pytest.fixture
def viewer(viewer_user) -> APIClient:
    return token_client(viewer_user)


@pytest.fixture
def anonymous(db) -> APIClient:
    return APIClient()


@pytest.fixture
def personas(admin, editor, viewer, anonymous) -> dict[str, APIClient]:
    return {"admin": admin, "editor": editor, "viewer": viewer, "anonymous": anonymous}


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
