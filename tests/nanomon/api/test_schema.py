"""The OpenAPI schema is valid, describes the real responses, and its docs work offline."""

from __future__ import annotations

import concurrent.futures
import contextlib
import io
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.core.management import call_command
from jsonschema import Draft202012Validator

from results.models import MonitorState, Result
from tests.support.api import http_monitor
from tests.support.http_servers import refused_port

ROOT = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(anonymous) -> dict:
    response = anonymous.get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def operation_for(schema: dict, method: str, path: str) -> dict:
    """The schema's operation for a concrete request path (``/api/monitors/7`` → ``{id}``)."""
    bare = path.split("?")[0]
    if method in schema["paths"].get(bare, {}):  # fixed words win over {id}, as in the URLconf
        return schema["paths"][bare][method]
    for template, operations in schema["paths"].items():
        pattern = "^" + re.sub(r"\\{[^/]+\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, bare) and method in operations:
            return operations[method]
    raise AssertionError(f"no operation for {method.upper()} {bare} in the schema")


def assert_matches_schema(schema: dict, method: str, path: str, response) -> None:
    operation = operation_for(schema, method, path)
    described = operation["responses"].get(str(response.status_code))
    assert described is not None, f"{method} {path}: {response.status_code} not in the schema"
    if "content" not in described:
        assert response.content == b""
        return
    content_type = response["Content-Type"].split(";")[0]
    assert content_type in described["content"], (path, content_type, list(described["content"]))
    body_schema = {
        **described["content"][content_type]["schema"],
        "components": schema["components"],
    }
    Draft202012Validator(body_schema).validate(response.json())


def test_the_schema_generates_without_warnings_and_validates(capsys):
    output = io.StringIO()

    call_command("spectacular", "--validate", "--fail-on-warn", stdout=output)

    assert output.getvalue().startswith("openapi: 3.1.0")
    assert "Warning" not in capsys.readouterr().err


def test_the_schema_lists_every_route(schema):
    assert set(schema["paths"]) >= {
        "/api/monitors",
        "/api/monitors/{id}",
        "/api/monitors/{id}/results",
        "/api/monitors/{id}/test",
        "/api/monitors/import",
        "/api/monitors/export",
        "/api/monitors/test",
        "/api/results",
    }
    assert set(schema["paths"]["/api/monitors"]) == {"get", "post", "delete"}


def test_real_responses_match_the_schema(
    schema, admin, viewer, anonymous, make_monitor, now, tests_worker
):
    monitor = make_monitor(name="described", properties={"headers": '{"A": "b"}'})
    MonitorState.objects.filter(monitor=monitor).update(last_status=2, last_run_at=now)
    for status, outputs in ((0, {"status": 200.0, "ipAddress": "::1"}), (2, None)):
        Result.objects.create(
            monitor=monitor, monitor_name="described", monitor_target=monitor.target,
            date=now, scheduled_for=now, status=status, outputs=outputs,
        )  # fmt: skip
    closed = f"127.0.0.1:{refused_port()}"
    requests = [
        (admin, "get", "/api/monitors", None),
        (viewer, "get", "/api/monitors?type=http&status=2", None),
        (admin, "post", "/api/monitors", http_monitor()),
        (admin, "post", "/api/monitors", http_monitor(interval="5ms")),
        (admin, "get", f"/api/monitors/{monitor.id}", None),
        (admin, "get", "/api/monitors/abc", None),
        (admin, "get", "/api/monitors/4520881", None),
        (admin, "put", f"/api/monitors/{monitor.id}", http_monitor(name="renamed")),
        (viewer, "put", f"/api/monitors/{monitor.id}", http_monitor()),
        (anonymous, "get", "/api/monitors", None),
        (admin, "get", f"/api/monitors/{monitor.id}/results?max=5", None),
        (admin, "get", "/api/results", None),
        (admin, "get", "/api/results?max=0", None),
        (admin, "get", "/api/monitors/export", None),
        (admin, "post", "/api/monitors/import", [http_monitor(name="imported")]),
        (admin, "post", "/api/monitors/import", {"not": "an array"}),
        (admin, "post", "/api/monitors/test", {"target": closed}),
        (admin, "post", f"/api/monitors/{monitor.id}/test", None),
        (admin, "delete", "/api/results", None),
        (admin, "delete", f"/api/monitors/{monitor.id}", None),
        (admin, "delete", "/api/monitors", None),
    ]

    for client, method, path, body in requests:
        response = getattr(client, method)(path, body, format="json")
        assert_matches_schema(schema, method, path, response)


def test_a_415_is_described_and_matches(schema, admin):
    response = admin.post("/api/monitors", b"x", content_type="text/plain")

    assert_matches_schema(schema, "post", "/api/monitors", response)


def test_the_interactive_docs_load_their_assets_from_this_server(anonymous):
    page = anonymous.get("/api/docs/").content.decode()

    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert assets
    assert not [url for url in assets if url.startswith(("http:", "https:", "//"))]
    scripts = [url for url in assets if url.endswith(".js")]
    assert any("swagger-ui-bundle" in url for url in scripts)
    for url in assets:
        if url.startswith("/static/"):
            assert anonymous.get(url).status_code == 200, url
    assert "/api/schema/" in page


@pytest.mark.e2e
def test_concurrent_first_schema_requests_to_a_threaded_web_server_all_succeed(tmp_path):
    """A fresh gunicorn process (gunicorn.conf.py: threads) asked for the schema six times at
    once: drf-spectacular's lazy extension loading raced and answered 500 before SchemaView."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "CELERY_"))},
        "NANOMON_DATA_DIR": str(tmp_path),
        "NANOMON_PUBLIC_READ": "true",
        "DJANGO_SETTINGS_MODULE": "nanomon.settings",
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    port = refused_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "nanomon.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", "1"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/api/schema/"

    def get(_: int) -> int:
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # listening, without asking for the schema yet
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
                break
            time.sleep(0.2)
        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            statuses = list(pool.map(get, range(6)))
    finally:
        server.terminate()
        server.wait(timeout=20)
    assert statuses == [200] * 6
