"""Credentials in targets (user info, ``?token=``) and the http ``body`` property on the pages:
masked for those who may not change monitors (cards, detail, results, delete, export), never
written into the edit form or a "Test now" result, kept when sent back masked."""

from __future__ import annotations

import contextlib
import json
from datetime import timedelta

import pytest

from monitors.models import Monitor
from monitors.secrets import MASK, revealed_properties
from results.models import Result
from tests.support.http_servers import refused_port
from tests.support.personas import user_with
from tests.web.conftest import session_client

pytestmark = pytest.mark.django_db

SECRETS = ("pa55", "t0k3n", "hunter2")
TARGET = "https://bot:pa55@127.0.0.1:9/send?chat=7&token=t0k3n"
MASKED = f"https://{MASK}@127.0.0.1:9/send?chat=7&amp;token={MASK}"  # as HTML writes it


def use_tests_worker(request) -> None:
    """The run's tests worker, where "Test now" runs its checks on a worker (the
    ``tests_worker`` fixture); nothing where it runs them in the web process."""
    with contextlib.suppress(pytest.FixtureLookupError):
        request.getfixturevalue("tests_worker")


@pytest.fixture
def private(make_monitor, now):
    monitor = make_monitor(
        name="private", target=TARGET, properties={"method": "POST", "body": "pw=hunter2"}
    )
    Result.objects.create(
        monitor=monitor, monitor_name=monitor.name, monitor_target=TARGET, date=now,
        scheduled_for=now - timedelta(seconds=1), status=2, value=0.0, message="refused",
    )  # fmt: skip
    return monitor


def pages(monitor: Monitor) -> list[str]:
    return [
        "/",
        "/live/monitors",
        f"/monitors/{monitor.id}",
        f"/live/monitors/{monitor.id}",
        "/results",
        "/live/results",
    ]


def test_viewers_never_see_the_credentials_on_any_page(viewer, private):
    for path in pages(private):
        page = viewer.get(path).content.decode()
        assert not [secret for secret in SECRETS if secret in page], path
        assert MASKED in page, path


def test_editors_see_the_target_in_full(editor, private):
    for path in pages(private):
        assert "t0k3n" in editor.get(path).content.decode(), path


def test_the_detail_page_links_a_masked_target_nowhere(viewer, editor, private):
    assert (
        f'href="{TARGET.replace("&", "&amp;")}"'
        in editor.get(f"/monitors/{private.id}").content.decode()
    )
    assert 'href="https://' not in viewer.get(f"/monitors/{private.id}").content.decode()


def test_the_delete_page_masks_it_for_who_may_delete_but_not_change(private):
    deleter = session_client(
        user_with("deleter", ["monitors.delete_monitor", "monitors.view_monitor"])
    )

    page = deleter.get(f"/monitors/{private.id}/delete").content.decode()

    assert MASKED in page
    assert "t0k3n" not in page


def test_a_viewers_export_masks_the_target_and_body(viewer, private):
    exported = json.loads(viewer.get("/manage/export").content)

    assert exported[0]["target"] == MASKED.replace("&amp;", "&")
    assert exported[0]["properties"]["body"] == MASK


def test_the_edit_form_never_holds_the_credentials_and_keeps_them_when_sent_back(editor, private):
    page = editor.get(f"/monitors/{private.id}/edit").content.decode()
    assert not [secret for secret in SECRETS if secret in page]
    assert f'value="{MASKED}"' in page

    response = editor.post(
        f"/monitors/{private.id}/edit",
        {
            "name": "renamed",
            "kind": "http",
            "target": MASKED.replace("&amp;", "&").replace("/send", "/v2/send"),
            "interval": "30s",
            "enabled": "on",
            "prop__http__method": "POST",
            "prop__http__body": MASK,
        },
    )

    assert response.status_code == 302, response.content.decode()
    private.refresh_from_db()
    assert private.target == TARGET.replace("/send", "/v2/send")
    assert revealed_properties(private.kind, private.properties)["body"] == "pw=hunter2"


def test_a_new_monitor_may_not_store_a_masked_target(editor):
    response = editor.post(
        "/monitors/new",
        {"name": "x", "kind": "http", "target": MASKED.replace("&amp;", "&"), "interval": "30s"},
    )

    assert response.status_code == 200
    assert "target holds a masked secret" in response.content.decode()
    assert not Monitor.objects.exists()


def test_test_now_shows_the_target_masked(request, editor):
    use_tests_worker(request)
    target = f"http://u:s3cr3t@127.0.0.1:{refused_port()}/?sig=zz9"

    page = editor.post(
        "/monitors/test", {"kind": "http", "target": target, "name": "", "interval": ""}
    ).content.decode()

    assert "connection refused" in page
    assert "s3cr3t" not in page
    assert "zz9" not in page
    assert f"http://{MASK}@127.0.0.1" in page


def test_the_monitors_page_search_cannot_spell_out_a_token(viewer, editor, private):
    def found(client, search: str) -> bool:
        return f"/monitors/{private.id}" in client.get("/", {"q": search}).content.decode()

    assert not found(viewer, "t0k")
    assert not found(viewer, "pa55")
    assert found(viewer, "privat")
    assert found(editor, "t0k")
