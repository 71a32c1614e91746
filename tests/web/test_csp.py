"""``Content-Security-Policy`` (web/csp.py) on every response, with a fresh nonce per request
that the pages' inline style carries; chromium's verdict is in tests/web/browser."""

from __future__ import annotations

import re

import pytest

from lib.status import status_badge
from web.csp import policy, source_hash, style_attribute_values

pytestmark = pytest.mark.django_db

NONCE = re.compile(r"'nonce-([A-Za-z0-9_-]+)'")


@pytest.mark.parametrize(
    ("path", "status"),
    [("/", 200), ("/login", 302), ("/about", 200), ("/api/monitors", 200), ("/api/docs/", 200),
     ("/api/health", None), ("/nope", 404), ("/monitors/new", 200)],
)  # fmt: skip
def test_every_response_has_the_policy(editor, path, status):
    response = editor.get(path)

    if status is not None:
        assert response.status_code == status
    header = response["Content-Security-Policy"]
    assert "default-src 'self'" in header
    assert "script-src 'self' 'nonce-" in header
    assert "'unsafe-inline'" not in header
    assert "'unsafe-eval'" not in header
    assert "frame-ancestors 'none'" in header


def test_the_layout_s_inline_style_carries_this_request_s_nonce(viewer):
    first, second = viewer.get("/"), viewer.get("/")

    nonces = [NONCE.search(r["Content-Security-Policy"]).group(1) for r in (first, second)]
    assert nonces[0] != nonces[1]
    assert f'<style nonce="{nonces[0]}">.status-good' in first.content.decode()
    assert "<script>" not in first.content.decode()
    assert " style=" not in first.content.decode()


def test_the_api_docs_inline_script_and_style_carry_the_nonce(viewer):
    response = viewer.get("/api/docs/")

    nonce = NONCE.search(response["Content-Security-Policy"]).group(1)
    page = response.content.decode()
    assert page.count(f'nonce="{nonce}"') == 2
    assert "<script>" not in page
    assert "<style>" not in page


def test_the_admin_status_badges_are_allowed_by_their_hash():
    header = policy("n")
    for status in (0, 1, 2, None):
        value = re.search(r'style="([^"]*)"', status_badge(status)).group(1)
        assert value in style_attribute_values()
        assert source_hash(value) in header
