"""A push monitor's page: its ping URLs for people who may change it, and a new token."""

from __future__ import annotations

import pytest

from monitors.models import Monitor

pytestmark = pytest.mark.django_db


@pytest.fixture
def push_monitor(make_monitor):
    return make_monitor(name="backup", kind="push", target="nightly <b>backup</b>", interval="24h")


def test_editors_see_the_ping_urls_viewers_do_not(push_monitor, editor, viewer):
    token = push_monitor.push_token
    page = editor.get(f"/monitors/{push_monitor.id}").content.decode()
    assert f"http://testserver/ping/{token}/fail" in page
    assert f"http://testserver/api/push/{token}?status=up" in page
    assert "nightly &lt;b&gt;backup&lt;/b&gt;" in page
    hidden = viewer.get(f"/monitors/{push_monitor.id}").content.decode()
    assert token not in hidden
    assert "data-push-urls" not in hidden


def test_a_new_token_from_the_page(push_monitor, editor, viewer):
    old = push_monitor.push_token
    assert viewer.post(f"/monitors/{push_monitor.id}/push-token").status_code == 403
    assert Monitor.objects.get(pk=push_monitor.pk).push_token == old
    response = editor.post(f"/monitors/{push_monitor.id}/push-token", follow=True)
    new = Monitor.objects.get(pk=push_monitor.pk).push_token
    assert new != old
    assert "the old URLs no longer work" in response.content.decode()
    assert f"/ping/{new}" in response.content.decode()


def test_the_new_monitor_page_offers_the_push_template(editor):
    page = editor.get("/monitors/new?template=push").content.decode()
    assert "Cron job or heartbeat (push)" in page


def test_test_now_on_the_form_says_a_push_monitor_is_not_probed(editor):
    response = editor.post(
        "/monitors/test",
        {"kind": "push", "target": "job", "interval": "1h", "rule": "", "enabled": "on",
         "prop_grace": "1m", "prop_tz": "UTC"},
    )  # fmt: skip
    assert response.status_code == 200
    assert "not probed" in response.content.decode()
