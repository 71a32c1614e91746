"""The "test" action: run a check once on a real worker (the ``tests_worker`` fixture)
against real local servers, and store nothing."""

from __future__ import annotations

import time

import pytest

from results.models import MonitorState, Result
from tests.support.http_servers import build_test_app, refused_port, serve_app

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("tests_worker")]

RESULT_FIELDS = {
    "date",
    "status",
    "value",
    "message",
    "monitor_id",
    "monitor_name",
    "monitor_target",
    "outputs",
    "type",
}


@pytest.fixture(scope="module")
def server():
    with serve_app(build_test_app()) as running:
        yield running


def test_a_one_off_http_check_returns_its_result_without_storing_it(editor, server):
    body = {"name": "try", "type": "http", "target": server.url("/status/404"),
            "rule": "status == 200"}  # fmt: skip

    response = editor.post("/api/monitors/test", body, format="json")

    assert response.status_code == 200, response.content
    result = response.json()
    assert set(result) == RESULT_FIELDS
    assert result["status"] == 1
    assert result["message"] == "Rule violated: status == 200"
    assert result["outputs"]["status"] == 404
    assert "body" not in result["outputs"]  # never sent back, as never stored
    assert result["monitor_id"] is None
    assert result["monitor_name"] == "try"
    assert result["monitor_target"] == server.url("/status/404")
    assert result["date"].endswith("Z")
    assert not Result.objects.exists()


def test_the_type_is_detected_from_the_target_when_left_out(editor, server):
    port = refused_port()

    http = editor.post("/api/monitors/test", {"target": server.url("/ok")}, format="json").json()
    tcp = editor.post("/api/monitors/test", {"target": f"127.0.0.1:{port}"}, format="json").json()

    assert (http["type"], http["status"]) == ("http", 0)
    assert (tcp["type"], tcp["status"], tcp["message"]) == ("tcp", 2, "connection refused")
    assert tcp["outputs"] is None


def test_a_detected_http_check_is_up_on_2xx_or_3xx_only_unless_a_rule_is_given(editor, server):
    def check(path: str, **fields: str) -> dict:
        body = {"target": server.url(path), **fields}
        return editor.post("/api/monitors/test", body, format="json").json()

    redirect, missing = check("/status/302"), check("/status/404")
    any_answer = check("/status/404", rule="status > 0")

    assert (redirect["type"], redirect["status"]) == ("http", 0)
    assert (missing["status"], missing["message"]) == (
        1,
        "Rule violated: status >= 200 && status < 400",
    )
    assert any_answer["status"] == 0


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({}, "missing monitor target"),
        ({"target": "ftp://files"}, "cannot tell the monitor type from the target: unsupported"),
        ({"type": "gopher", "target": "x"}, "invalid monitor type"),
        ({"target": "http://127.0.0.1/", "rule": "=="}, "rule invalid: "),
        ({"target": "http://127.0.0.1/", "properties": {"x": "1"}}, "property 'x': unknown"),
        ({"type": "tcp", "target": "no-port"}, "invalid monitor target: missing port"),
        ({"target": 42}, "target: must be a string"),
    ],
)
def test_a_check_that_cannot_run_is_a_400(editor, body, detail):
    response = editor.post("/api/monitors/test", body, format="json")

    assert response.status_code == 400
    assert response.json()["detail"].startswith(detail)


def test_a_stored_monitor_runs_once_and_nothing_about_it_changes(editor, make_monitor, server):
    monitor = make_monitor(name="stored", target=server.url("/ok"), rule="status == 200")
    state_before = MonitorState.objects.filter(monitor=monitor).values().get()

    response = editor.post(f"/api/monitors/{monitor.id}/test")

    assert response.status_code == 200
    result = response.json()
    assert (result["status"], result["monitor_id"], result["monitor_name"]) == (
        0,
        monitor.id,
        "stored",
    )
    assert result["outputs"]["status"] == 200
    assert not Result.objects.exists()
    assert MonitorState.objects.filter(monitor=monitor).values().get() == state_before


def test_testing_an_unknown_monitor_is_a_404(editor):
    assert editor.post("/api/monitors/4520881/test").status_code == 404
    assert editor.post("/api/monitors/abc/test").status_code == 400


def test_a_check_slower_than_a_test_may_be_is_cut_at_the_test_timeout(
    editor, make_monitor, server, settings
):
    """Its own timeout (10 minutes) is cut to NANOMON_TEST_TIMEOUT: the answer comes in
    time, and says why the check failed."""
    settings.NANOMON_TEST_TIMEOUT_SECONDS = 2
    monitor = make_monitor(
        interval="1h", target=server.url("/sleep?seconds=60"), properties={"timeout": "10m"}
    )
    started = time.monotonic()

    stored = editor.post(f"/api/monitors/{monitor.id}/test")
    one_off = editor.post(
        "/api/monitors/test",
        {"target": server.url("/sleep?seconds=60"), "properties": {"timeout": "5m"}},
        format="json",
    )

    assert time.monotonic() - started < 2 * (2 + 1.5)
    for response in (stored, one_off):
        assert response.status_code == 200, response.content
        assert (response.json()["status"], response.json()["message"]) == (
            2,
            "timed out after 2s, the longest a test may take (NANOMON_TEST_TIMEOUT)",
        )
