"""The monitor form's "Decide from the target" type (monitors.autodetect, as the API)."""

from __future__ import annotations

import pytest

from monitors.autodetect import AUTO_HTTP_RULE
from monitors.models import Monitor
from tests.support.http_servers import build_test_app, serve_app

pytestmark = pytest.mark.django_db


def form_data(**fields: str) -> dict[str, str]:
    return {"name": "m", "kind": "auto", "interval": "30s", "rule": "", "enabled": "on", **fields}


def test_the_form_offers_to_let_the_target_decide(editor):
    page = editor.get("/monitors/new").content.decode()

    assert '<option value="auto">Decide from the target' in page
    assert 'data-kind-section="auto" hidden' in page  # its explanation, shown when chosen


@pytest.mark.parametrize(
    ("fields", "kind", "rule", "properties"),
    [
        ({"target": "https://example.net/"}, "http", AUTO_HTTP_RULE, {}),
        ({"target": "https://example.net/", "rule": "status == 200"}, "http", "status == 200", {}),
        ({"target": "db.example:5432", "prop__tcp__timeout": "2s"}, "tcp", "", {"timeout": "2s"}),
        ({"target": "192.0.2.1", "prop__http__timeout": "2s"}, "ping", "", {}),
    ],
)
def test_a_monitor_created_with_decide_from_the_target(editor, fields, kind, rule, properties):
    response = editor.post("/monitors/new", form_data(**fields))

    assert response.status_code == 302, response.content.decode()
    monitor = Monitor.objects.get()
    assert (monitor.kind, monitor.rule, monitor.properties) == (kind, rule, properties)


def test_a_target_that_decides_nothing_is_said_next_to_the_type(editor):
    response = editor.post("/monitors/new", form_data(target="ftp://example.net"))

    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="id_kind_error"' in page
    assert (
        "missing monitor type: the target does not decide it: unsupported scheme &#x27;ftp&#x27;"
        in page
    )
    assert not Monitor.objects.exists()


def test_the_page_with_an_error_keeps_decide_from_the_target_chosen(editor):
    page = editor.post("/monitors/new", form_data(target="ftp://x")).content.decode()

    assert '<option value="auto" selected>' in page
    assert 'data-kind-section="auto">' in page


def test_test_now_with_decide_from_the_target_runs_the_decided_type(editor, tests_worker):
    with serve_app(build_test_app()) as server:
        page = editor.post(
            "/monitors/test", form_data(target=server.url("/status/404"))
        ).content.decode()

    assert "Rule violated: status &gt;= 200 &amp;&amp; status &lt; 400" in page


def test_test_now_says_when_the_target_decides_no_type(editor):
    page = editor.post("/monitors/test", form_data(target="ftp://example.net")).content.decode()

    assert "Could not test" in page
    assert "missing monitor type: the target does not decide it" in page
