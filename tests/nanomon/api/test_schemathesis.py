"""Schemathesis against the API's own OpenAPI schema (``/api/schema/``), as an administrator,
on PostgreSQL: schema-valid requests must be accepted and schema-violating ones refused, every
answer must be one the schema names (status, content type, body), never a 500. Bounded and
deterministic: ``MAX_EXAMPLES`` per operation. (A stateful run through inferred links was
dropped: its ids come from the database, so Hypothesis' replay saw different draws and failed
with FlakyStrategyDefinition in CI.)"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ensure_resource_availability,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from monitors.engine import CheckResult, CheckStatus
from tests.support.personas import user_with

MAX_EXAMPLES = 25
# Operations taking monitor definitions, and the 400s their schema-valid bodies may still get:
# what JSON Schema cannot say (nanomon/api/schema.py). A 400 that is about JSON types, lengths
# or the body's shape would be the schema and the validation disagreeing: never allowed.
DEFINITION_OPERATIONS = {
    "POST /api/monitors",
    "PUT /api/monitors/{id}",
    "POST /api/monitors/import",
    "POST /api/monitors/test",
}
BEYOND_JSON_SCHEMA = re.compile(
    r"^(monitor \d+: )?("
    r"invalid monitor interval|monitor interval must be|rule invalid: |property '|"
    r"cannot tell the monitor type|"
    # No type is schema-valid (the target decides it): a target that decides none is refused.
    r"missing monitor type$|"
    r"target |invalid target|properties: (?!must be an object|value of '[^']*' must be a string|"
    r"names must be plain text)|[a-z]+ target|.*\bexpected "
    r")"
)
# Time ranges (since/until): their order and the rollup route's longest range are beyond JSON
# Schema too.
RANGE_OPERATIONS = {
    "GET /api/results",
    "GET /api/monitors/{id}/results",
    "GET /api/monitors/{id}/rollups",
}
BEYOND_JSON_SCHEMA_RANGE = re.compile(r"^(since must be before until|a range is at most )")
# A backup to restore is a file of JSON lines checked line by line (docs/backup.md): any bytes
# fit its schema (a binary body), so its refusals are all beyond JSON Schema.
BACKUP_OPERATIONS = {"POST /api/backup", "POST /api/backup_full"}
BEYOND_JSON_SCHEMA_BACKUP = re.compile(r"^(line \d+: |the file is empty)")
# A maintenance window's schedule (docs/alerting.md, Maintenance): which fields a schedule
# needs, a cron expression's grammar, an IANA time zone, monitors that exist.
MAINTENANCE_OPERATIONS = {
    "POST /api/maintenance",
    "PUT /api/maintenance/{id}",
    "PATCH /api/maintenance/{id}",
}
BEYOND_JSON_SCHEMA_MAINTENANCE = re.compile(
    r"^(cron: |time_zone: unknown time zone|monitors: Invalid pk|"
    r"(starts_at|ends_at|duration_minutes|weekdays|days_of_month|start_time): ("
    r"a one-off window needs|must be after the start|a recurring window needs|"
    r"choose at least one|needs a start time))"
)
# A channel's config is checked by its kind's transport (docs/alerting.md: required settings,
# URL schemes, addresses), a policy's channels must exist, the built-in channel stays.
CHANNEL_OPERATIONS = {
    "POST /api/channels",
    "PUT /api/channels/{id}",
    "PATCH /api/channels/{id}",
    "DELETE /api/channels/{id}",
    "PUT /api/monitors/{id}/alert_policy",
}
BEYOND_JSON_SCHEMA_CHANNEL = re.compile(
    r"^(config(\.[a-z_]+)?: |channels: Invalid pk|The built-in channel|This channel is configured)"
)


@schemathesis.check
def positive_data_acceptance_beyond_json_schema(ctx, response, case):
    """``positive_data_acceptance``, but a definition's 400 for what JSON Schema cannot say
    (a target's shape for its type, the rule's grammar, the interval's range) is fine."""
    if (
        case.operation.label in DEFINITION_OPERATIONS
        and response.status_code == 400
        and BEYOND_JSON_SCHEMA.match(response.json()["detail"])
    ):
        return None
    if (
        case.operation.label in RANGE_OPERATIONS
        and response.status_code == 400
        and BEYOND_JSON_SCHEMA_RANGE.match(response.json()["detail"])
    ):
        return None
    if (
        case.operation.label in BACKUP_OPERATIONS
        and response.status_code == 400
        and BEYOND_JSON_SCHEMA_BACKUP.match(response.json()["detail"])
    ):
        return None
    if (
        case.operation.label in MAINTENANCE_OPERATIONS
        and response.status_code == 400
        and BEYOND_JSON_SCHEMA_MAINTENANCE.match(response.json()["detail"])
    ):
        return None
    if (
        case.operation.label in CHANNEL_OPERATIONS
        and response.status_code == 400
        and BEYOND_JSON_SCHEMA_CHANNEL.match(response.json()["detail"])
    ):
        return None
    return positive_data_acceptance(ctx, response, case)


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    positive_data_acceptance_beyond_json_schema,
    # Not use_after_free: NanoMon's contract answers 200 [] for the results of a deleted (or
    # unknown) monitor, which that check reports by design.
    ensure_resource_availability,
]

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())
# Text is UTF-8 (JSON's own encoding): no lone surrogates, which a JSON string may escape but
# no UTF-8 text holds (the API refuses them with a 400 that JSON Schema cannot express).
schema.config.generation.update(
    modes=["positive", "negative"], max_examples=MAX_EXAMPLES, codec="utf-8"
)


def stand_in_check(*args, **kwargs) -> CheckResult:
    """ "Test now" without the network or a worker: the API's answer is what is checked."""
    return CheckResult(
        status=CheckStatus.FAILED, value=0.0, message="not run in tests", outputs=None,
        started_at=datetime.now(UTC), duration_seconds=0.0,
    )  # fmt: skip


@pytest.fixture
def in_test_transaction():
    """The app is called as WSGI, in this thread: keep Django from closing the test's database
    connection at each request's start and end (as its test client does)."""
    signals = (request_started, request_finished)
    for signal in signals:
        signal.disconnect(close_old_connections)
    yield
    for signal in signals:
        signal.connect(close_old_connections)


@pytest.fixture
def admin_headers(db, in_test_transaction, monkeypatch) -> dict[str, str]:
    import monitors.api.views

    for name in ("one_off_check", "check_once"):
        if hasattr(monitors.api.views, name):
            monkeypatch.setattr(monitors.api.views, name, stand_in_check)
    monkeypatch.setattr("monitors.services.request_dispatch", lambda: None)
    admin = user_with("schemathesis", [], is_staff=True, is_superuser=True)
    return {"Authorization": f"Token {Token.objects.create(user=admin).key}"}


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_the_api_agrees_with_its_schema(case, admin_headers):
    case.call_and_validate(headers=admin_headers, checks=CHECKS)
