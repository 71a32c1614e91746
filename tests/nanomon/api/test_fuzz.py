"""Random JSON thrown at every write endpoint: only 2xx or 4xx come back, never a 500.

Bodies are random JSON (any shape) and random monitor-shaped objects whose values are random
JSON or near-valid strings, so both the type checks and the contract checks are exercised.
The one-off "test" action runs a stand-in check: random targets must not reach the network.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitors.engine import CheckResult, CheckStatus

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

awkward_text = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["", " ", "\x00", "\ud800", "é" * 250, "1s" * 40, "status ==", "5ms"]),
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | awkward_text,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(awkward_text, children, max_size=4)
    ),
    max_leaves=12,
)
near_valid = {
    "name": st.one_of(st.sampled_from(["web", " padded ", "n" * 201]), awkward_text),
    "type": st.sampled_from(["http", "tcp", "ping", "dns", "", "HTTP", "gopher"]),
    "interval": st.sampled_from(["30s", "1s", "999ms", "1.5h", "30", "", "-1m", "1e9h"]),
    "target": st.sampled_from(
        ["http://127.0.0.1:9/", "127.0.0.1:9", "[::1]:9", "example.test", "", "::1:80", "ftp://x"]
    ),
    "rule": st.sampled_from(["", "status == 200", "status ==", "(" * 300, "a IN (1, 2)"]),
    "enabled": st.one_of(st.booleans(), st.sampled_from([None, 1, "true"])),
    "properties": st.one_of(
        st.dictionaries(
            st.sampled_from(["timeout", "method", "headers", "count", "type", "bogus"]),
            st.one_of(
                st.sampled_from(["5s", "GET", '{"A": "b"}', "3", "MX", "x" * 70000]), json_values
            ),
            max_size=3,
        ),
        json_values,
    ),
}
monitor_shaped = st.fixed_dictionaries(
    {}, optional={key: st.one_of(strategy, json_values) for key, strategy in near_valid.items()}
)
bodies = st.one_of(json_values, monitor_shaped)


def stand_in_check(request, *, user_id) -> CheckResult:
    return CheckResult(
        status=CheckStatus.FAILED, value=0.0, message="not run in tests", outputs=None,
        started_at=datetime.now(UTC), duration_seconds=0.0,
    )  # fmt: skip


def send(client, method: str, path: str, body) -> None:
    response = getattr(client, method)(path, json.dumps(body), content_type="application/json")
    assert response.status_code < 500, (path, body, response.content[:500])
    if response.status_code >= 400:
        assert response["Content-Type"] == "application/problem+json"
        assert isinstance(response.json()["detail"], str)


@FUZZ
@given(body=bodies)
def test_random_json_posted_as_a_monitor_gets_only_2xx_or_4xx(admin, body):
    send(admin, "post", "/api/monitors", body)


@FUZZ
@given(body=bodies)
def test_random_json_put_over_a_monitor_gets_only_2xx_or_4xx(admin, make_monitor, body):
    monitor = make_monitor(properties={"headers": '{"Authorization": "x"}'})
    send(admin, "put", f"/api/monitors/{monitor.id}", body)


@FUZZ
@given(body=st.one_of(st.lists(bodies, max_size=4), json_values), replace=st.booleans())
def test_random_json_imported_gets_only_2xx_or_4xx(admin, body, replace):
    send(admin, "post", f"/api/monitors/import{'?mode=replace' if replace else ''}", body)


@FUZZ
@given(body=bodies)
def test_random_json_sent_to_the_test_action_gets_only_2xx_or_4xx(admin, monkeypatch, body):
    monkeypatch.setattr("monitors.api.views.one_off_check", stand_in_check)
    send(admin, "post", "/api/monitors/test", body)


@FUZZ
@given(
    raw=st.binary(max_size=200),
    content_type=st.sampled_from(
        [
            "application/json",
            "application/json; charset=latin-1",
            "text/plain",
            "",
            "*/*",
            "application/json; charset=utf-16",
            "application/problem+json",
        ]
    ),
    path=st.sampled_from(["/api/monitors", "/api/monitors/import", "/api/monitors/1"]),
)
def test_random_bytes_with_any_content_type_get_only_2xx_or_4xx(admin, raw, content_type, path):
    method = "PUT" if path.endswith("/1") else "POST"
    response = admin.generic(method, path, raw, content_type=content_type)
    assert response.status_code < 500, (raw, content_type, response.content[:500])


@FUZZ
@given(
    query=st.dictionaries(
        st.sampled_from(["max", "before", "before_id", "type", "enabled", "status", "search"]),
        st.text(max_size=40),
        max_size=4,
    ),
    path=st.sampled_from(["/api/results", "/api/monitors/7/results", "/api/monitors"]),
)
def test_random_query_parameters_on_the_reads_get_only_2xx_or_4xx(admin, query, path):
    response = admin.get(path, query)
    assert response.status_code < 500, (path, query, response.content[:500])
