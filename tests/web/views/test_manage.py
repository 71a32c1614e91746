"""The admin page: export, import with a preview, delete all monitors, delete all results."""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime

from django.core.files.uploadedfile import SimpleUploadedFile

from monitors.models import Monitor
from monitors.secrets import MASK
from results.models import MonitorState, Result
from tests.support.api import token_client
from tests.web.conftest import add_results

DEFINITIONS = [
    {
        "name": "one",
        "type": "http",
        "interval": "30s",
        "target": "https://one.example.net/",
        "rule": "status == 200",
        "enabled": True,
        "properties": {"timeout": "2s"},
    },
    {
        "name": "two",
        "type": "tcp",
        "interval": "1m",
        "target": "db:5432",
        "rule": "",
        "enabled": False,
        "properties": {},
    },
]


def test_the_admin_page_offers_each_action_with_its_permission(editor, viewer):
    page = editor.get("/manage").content.decode()
    for text in ("Export monitors", "Preview import", "Delete all monitors", "Delete all results"):
        assert text in page
    page = viewer.get("/manage").content.decode()
    assert "Export monitors" in page
    assert "Preview import" not in page
    assert "Delete all" not in page
    assert "Secret properties are masked" in page


def test_the_export_is_the_apis_export_as_a_file(editor_user, editor, make_monitor):
    make_monitor(name="b", properties={"headers": '{"Authorization": "x"}'})
    make_monitor(name="a", kind="tcp", target="db:1", rule="respTime < 5")
    response = editor.get("/manage/export")
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="nanomon-monitors-')
    api = token_client(editor_user).get("/api/monitors/export").json()
    assert json.loads(response.content) == api
    assert [monitor["name"] for monitor in api] == ["b", "a"]  # creation order


def test_a_viewers_export_masks_secrets(viewer, make_monitor):
    make_monitor(name="b", properties={"headers": '{"Authorization": "x"}'})
    exported = json.loads(viewer.get("/manage/export").content)
    assert exported[0]["properties"]["headers"] == json.dumps(
        {"Authorization": MASK}, ensure_ascii=False
    )


def test_import_shows_a_preview_and_changes_nothing_until_confirmed(editor, make_monitor):
    make_monitor(name="existing")
    upload = SimpleUploadedFile("export.json", json.dumps(DEFINITIONS).encode(), "application/json")
    page = editor.post(
        "/manage/import", {"file": upload, "mode": "append", "step": "preview"}
    ).content.decode()
    assert "2 monitors will be created" in page
    assert "will be deleted" not in page
    assert "one.example.net" in page
    assert Monitor.objects.count() == 1
    carried = page.split('<textarea name="text" hidden aria-hidden="true">')[1].split(
        "</textarea>"
    )[0]
    response = editor.post(
        "/manage/import",
        {"text": html.unescape(carried), "mode": "append", "step": "confirm"},
    )
    assert response.status_code == 302
    assert sorted(Monitor.objects.values_list("name", flat=True)) == ["existing", "one", "two"]
    two = Monitor.objects.get(name="two")
    assert (two.kind, two.enabled, two.interval) == ("tcp", False, "1m")
    assert "Imported 2 monitors." in editor.get("/").content.decode()


def test_replace_mode_previews_what_goes_and_then_replaces_everything(editor, make_monitor):
    old = make_monitor(name="old one")
    add_results(old, [0], start=datetime(2026, 1, 1, tzinfo=UTC))
    page = editor.post(
        "/manage/import",
        {"text": json.dumps(DEFINITIONS), "mode": "replace", "step": "preview"},
    ).content.decode()
    assert "1 monitor will be deleted, with all their results" in page
    assert "old one" in page
    editor.post(
        "/manage/import", {"text": json.dumps(DEFINITIONS), "mode": "replace", "step": "confirm"}
    )
    assert sorted(Monitor.objects.values_list("name", flat=True)) == ["one", "two"]
    assert not Result.objects.exists()


def test_an_exported_file_imports_back_the_same_monitors(editor, make_monitor):
    make_monitor(name="a", properties={"headers": '{"Authorization": "Bearer x"}', "timeout": "1s"})
    make_monitor(name="b", kind="dns", target="example.net", properties={"type": "MX"})
    exported = editor.get("/manage/export").content
    editor.post("/manage/import", {"text": exported.decode(), "mode": "replace", "step": "confirm"})
    assert json.loads(editor.get("/manage/export").content) == json.loads(exported)


def test_a_bad_import_is_said_next_to_the_field_and_stores_nothing(editor):
    cases = [
        ("not json", "not valid JSON"),
        ('{"name": "x"}', "must be an array of monitors"),
        (
            json.dumps([DEFINITIONS[0], {**DEFINITIONS[1], "name": ""}]),
            "monitor 2: missing monitor name",
        ),
        (
            json.dumps(
                [
                    {
                        **DEFINITIONS[0],
                        "properties": {"headers": json.dumps({"A": MASK}, ensure_ascii=False)},
                    }
                ]
            ),
            "monitor 1: property &#x27;headers&#x27; holds a masked secret",
        ),
        ("", "choose a file or paste the JSON of an export"),
    ]
    for text, message in cases:
        page = editor.post(
            "/manage/import", {"text": text, "mode": "append", "step": "preview"}
        ).content.decode()
        assert message in page.split('id="id_text_error">')[1], text
    assert not Monitor.objects.exists()


def test_replacing_needs_the_delete_permission(db):
    from tests.support.personas import user_with
    from tests.web.conftest import session_client

    adder = session_client(user_with("adder", ["monitors.add_monitor"]))
    page = adder.post(
        "/manage/import", {"text": json.dumps(DEFINITIONS), "mode": "replace", "step": "confirm"}
    ).content.decode()
    assert "replacing also needs permission to delete monitors" in page
    assert not Monitor.objects.exists()


def test_delete_all_monitors_asks_first(editor, make_monitor):
    make_monitor(name="a")
    make_monitor(name="b")
    page = editor.get("/manage/delete-monitors").content.decode()
    assert "All <strong>2 monitors</strong>" in page
    assert Monitor.objects.count() == 2
    response = editor.post("/manage/delete-monitors")
    assert response["Location"] == "/manage"
    assert not Monitor.objects.exists()
    assert "Deleted 2 monitors and their results." in editor.get("/manage").content.decode()


def test_delete_all_results_asks_first_and_keeps_monitors_and_their_state(editor, make_monitor):
    monitor = make_monitor(name="a")
    add_results(monitor, [0, 1, 2], start=datetime(2026, 1, 1, tzinfo=UTC))
    assert "<strong>Every result</strong>" in editor.get("/manage/delete-results").content.decode()
    assert Result.objects.count() == 3
    editor.post("/manage/delete-results")
    assert not Result.objects.exists()
    assert MonitorState.objects.get(monitor=monitor).last_status == 2
