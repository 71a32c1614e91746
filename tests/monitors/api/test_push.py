"""Push monitors in the API: created like any monitor, their ping URL shown only to people who
may change monitors, rotated on request; "Test now" refuses them (nothing to probe)."""

from __future__ import annotations

import pytest

from monitors.models import Monitor

pytestmark = pytest.mark.django_db

PUSH = {
    "name": "backup",
    "type": "push",
    "interval": "1h",
    "target": "nightly backup on db1",
    "rule": "exitCode == 0",
    "enabled": True,
    "properties": {"grace": "10m"},
}


def test_created_through_the_api_with_a_url_for_editors_only(editor, viewer):
    created = editor.post("/api/monitors", PUSH, format="json")
    assert created.status_code == 200, created.content
    token = Monitor.objects.get(pk=created.json()["id"]).push_token
    assert created.json()["pushUrl"] == f"http://testserver/ping/{token}"
    url = f"/api/monitors/{created.json()['id']}"
    assert editor.get(url).json()["pushUrl"].endswith(token)
    assert "pushUrl" not in viewer.get(url).json()
    assert token not in viewer.get(url).content.decode()
    assert token not in viewer.get("/api/monitors").content.decode()


def test_a_bad_grace_is_refused_naming_the_property(editor):
    response = editor.post(
        "/api/monitors", {**PUSH, "properties": {"grace": "soon"}}, format="json"
    )
    assert response.status_code == 400
    assert "grace" in response.content.decode()


def test_rotate_gives_a_new_token_for_editors_only(editor, viewer, client):
    monitor_id = editor.post("/api/monitors", PUSH, format="json").json()["id"]
    old = Monitor.objects.get(pk=monitor_id).push_token
    assert viewer.post(f"/api/monitors/{monitor_id}/push_token").status_code == 403
    rotated = editor.post(f"/api/monitors/{monitor_id}/push_token")
    new = Monitor.objects.get(pk=monitor_id).push_token
    assert rotated.status_code == 200
    assert new != old
    assert rotated.json()["pushUrl"].endswith(new)
    assert client.get(f"/ping/{old}").status_code == 404
    assert client.get(f"/ping/{new}").status_code == 200


def test_rotate_and_test_now_refuse_what_they_cannot_do(editor):
    http_id = editor.post(
        "/api/monitors", {**PUSH, "type": "http", "target": "http://127.0.0.1:9/",
                          "rule": "", "properties": {}}, format="json",
    ).json()["id"]  # fmt: skip
    assert editor.post(f"/api/monitors/{http_id}/push_token").status_code == 400
    push_id = editor.post("/api/monitors", PUSH, format="json").json()["id"]
    refused = editor.post(f"/api/monitors/{push_id}/test")
    assert refused.status_code == 400
    assert "not probed" in refused.content.decode()
