"""The ``prometheus`` monitor type: one PromQL instant query to a Prometheus server, now.

Contract (NanoMon's ``prometheus`` type), plain data in and out:

* Target: the server's base URL, ``http://`` or ``https://`` (a path prefix is kept:
  ``https://example.net/prometheus``); no query string or fragment.
* Properties: ``query`` (required, PromQL), ``timeout`` (5s, one deadline for the whole
  request, body included), ``validateTLS`` (true).
* ``GET {target}/api/v1/query?query=…`` without ``time``: the server evaluates it now.
* A scalar answer is the value (``value`` output, ``result_count`` 1). An instant vector's
  first sample is the value, with outputs ``metric`` (its series as PromQL writes it,
  ``up{instance="127.0.0.1:9090",job="prometheus"}``, label values escaped as in the text
  format: ``\\`` ``\\"`` ``\\n``), ``prom_timestamp`` (the sample's Unix time, seconds),
  ``value`` and ``result_count`` (the samples in the vector).
* An empty vector (``absent_metric_xyz``, ``up == 2``) is **OK** with value 0 and
  ``result_count`` 0, and no ``metric``, ``prom_timestamp`` or ``value`` outputs: a rule
  such as ``result_count > 0`` (or ``result_count == 0``) judges it. NanoMon upstream's code
  for this type could not be found to check against; this is the issue's wording.
* Failed (``ProbeFailure``): a connection error or timeout (the ``http`` probe's messages);
  a Prometheus error (HTTP 400 ``bad_data``, 422 ``execution``, 503 ``timeout``, any
  ``"status": "error"``) → ``query error: <its error text>``; another answer that is not
  the query API's JSON → ``not a Prometheus query API response (HTTP 404)``; a range vector
  or a string → ``query returned a range vector (matrix), not an instant vector or scalar``;
  a NaN or infinite value → ``query returned NaN, which is not a number NanoMon can store``.
  The value's unit is the query's own, so none is declared.
* ``respTime`` (ms from sending the request until the answer was read) is an output too.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from urllib.parse import urlsplit

from yarl import URL

from monitors.probes.base import (
    MonitorTemplate,
    OutputSpec,
    OutputValue,
    ProbeFailure,
    ProbeResult,
    ProbeType,
    PropertySpec,
    parse_timeout,
)
from monitors.probes.http import VALIDATE_TLS
from monitors.probes.http import check_target as check_http_target
from monitors.probes.http_get import fetch

QUERY_PATH = "/api/v1/query"

# A query answer larger than this fails the run (a vector of every series on a big server).
MAX_RESPONSE_BYTES = 16 * 1024 * 1024

# Longest Prometheus error text kept in the message.
MAX_ERROR_CHARS = 300

# What Prometheus puts before a parse error; the message says "query error:" already.
_QUERY_PARAMETER = 'invalid parameter "query": '


def parse_query(text: str) -> str:
    """A PromQL expression: any non-blank text (the server judges its syntax)."""
    query = text.strip()
    if not query:
        raise ValueError("must not be empty")
    return query


def check_target(target: str) -> None:
    """An http(s) URL with a host (the ``http`` type's check), with no query or fragment."""
    check_http_target(target)
    parts = urlsplit(target)
    if parts.query or parts.fragment:
        raise ValueError("must be the server's base URL, without a query string or fragment")


def query_url(target: str, query: str) -> URL:
    """``{target}/api/v1/query?query=…``, the query fully percent-encoded (``+`` too)."""
    base = URL(target)
    return base.with_path(base.path.rstrip("/") + QUERY_PATH).with_query({"query": query})


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def series_text(labels: Mapping[str, str]) -> str:
    """A series as PromQL writes it: ``name{a="b",c="d"}``; ``{a="b"}`` without a name."""
    name = labels.get("__name__", "")
    pairs = ",".join(
        f'{key}="{_escape(value)}"' for key, value in sorted(labels.items()) if key != "__name__"
    )
    return f"{name}{{{pairs}}}" if pairs or not name else name


def _sample_value(pair: object) -> tuple[float, float]:
    """``[unix_time, "value"]`` → (time, value); non-finite values fail the run."""
    if not (isinstance(pair, list) and len(pair) == 2):
        raise ProbeFailure("not a Prometheus query API response (a sample without a value)")
    try:
        stamp, value = float(pair[0]), float(pair[1])
    except (TypeError, ValueError):
        raise ProbeFailure("not a Prometheus query API response (a sample is no number)") from None
    if not math.isfinite(value):
        raise ProbeFailure(f"query returned {pair[1]}, which is not a number NanoMon can store")
    return stamp, value


def _decode(status: int, body: bytes) -> dict:
    try:
        answer = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        answer = None
    if not isinstance(answer, dict) or answer.get("status") not in {"success", "error"}:
        raise ProbeFailure(f"not a Prometheus query API response (HTTP {status})")
    if answer["status"] == "error" or status != 200:
        error = str(answer.get("error") or answer.get("errorType") or f"HTTP {status}")
        error = " ".join(error.split()).removeprefix(_QUERY_PARAMETER)
        if len(error) > MAX_ERROR_CHARS:
            error = error[: MAX_ERROR_CHARS - 1] + "…"
        raise ProbeFailure(f"query error: {error}")
    data = answer.get("data")
    if not isinstance(data, dict):
        raise ProbeFailure(f"not a Prometheus query API response (HTTP {status})")
    return data


def read_answer(status: int, body: bytes) -> tuple[float | None, dict[str, OutputValue]]:
    """(value, outputs) of a query API answer; value None for an empty vector."""
    data = _decode(status, body)
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar":
        stamp, value = _sample_value(result)
        return value, {"value": value, "prom_timestamp": stamp, "result_count": 1.0}
    if kind == "vector" and isinstance(result, list):
        if not result:
            return None, {"result_count": 0.0}
        first = result[0]
        labels = first.get("metric") if isinstance(first, dict) else None
        if not isinstance(labels, dict):
            raise ProbeFailure("not a Prometheus query API response (a sample without labels)")
        stamp, value = _sample_value(first.get("value"))
        return value, {
            "metric": series_text({str(k): str(v) for k, v in labels.items()}),
            "value": value,
            "prom_timestamp": stamp,
            "result_count": float(len(result)),
        }
    if kind == "matrix":
        raise ProbeFailure(
            "query returned a range vector (matrix), not an instant vector or scalar"
        )
    if kind == "string":
        raise ProbeFailure("query returned a string, not an instant vector or scalar")
    raise ProbeFailure(f"not a Prometheus query API response (result type {kind!r})")


async def probe(target: str, properties: Mapping[str, object]) -> ProbeResult:
    """Run ``query`` on the server at ``target`` now; see the module docstring."""
    timeout = float(properties["timeout"])  # type: ignore[arg-type]
    fetched = await fetch(
        query_url(target, str(properties["query"])),
        timeout=timeout,
        validate_tls=bool(properties["validateTLS"]),
        max_bytes=MAX_RESPONSE_BYTES,
        headers={"Accept": "application/json"},
    )
    if fetched.truncated:
        raise ProbeFailure(f"answer larger than {MAX_RESPONSE_BYTES // (1024 * 1024)} MiB")
    value, outputs = read_answer(fetched.status, fetched.body)
    outputs["respTime"] = fetched.elapsed_ms
    return ProbeResult(value=value if value is not None else 0.0, outputs=outputs)


PROPERTIES = (
    PropertySpec(
        "query",
        'PromQL expression, run as an instant query now, e.g. up{job="node"} or '
        "sum(rate(http_requests_total[5m])).",
        parse=parse_query,
        required=True,
    ),
    PropertySpec(
        "timeout",
        "Deadline for the whole request, answer included, as a duration (500ms, 5s).",
        default="5s",
        parse=parse_timeout,
    ),
    VALIDATE_TLS,
)

OUTPUTS = (
    OutputSpec(
        "value",
        "number",
        "The scalar, or the first sample's value of a vector (the result value). Absent for "
        "an empty vector, whose result value is 0.",
    ),
    OutputSpec(
        "result_count",
        "number",
        "Samples in the answer: 1 for a scalar, 0 for an empty vector.",
    ),
    OutputSpec(
        "metric",
        "string",
        'The first sample\'s series as PromQL writes it, e.g. up{instance="host:9100",'
        'job="node"}. Vectors only.',
    ),
    OutputSpec(
        "prom_timestamp",
        "number",
        "Unix time of the value, in seconds, as the server stamped it.",
    ),
    OutputSpec(
        "respTime",
        "number",
        "Milliseconds from sending the query until the answer was read.",
        unit="ms",
    ),
)

PROBE = ProbeType(
    kind="prometheus",
    label="Prometheus query",
    short_label="Prometheus",
    target_help="Base URL of a Prometheus server, http:// or https://, e.g. http://prometheus:9090",
    properties=PROPERTIES,
    outputs=OUTPUTS,
    check_target=check_target,
    probe=probe,
    template=MonitorTemplate(
        title="Prometheus query",
        name="My Prometheus query",
        target="http://prometheus:9090",
        interval="1m",
        rule="result_count > 0 && value == 1",
        properties={"query": 'up{job="node"}', "timeout": "5s"},
        rule_examples=(
            "value < 0.9",
            "result_count == 0",
            "result_count > 0 && value == 1",
            "metric =~ 'db'",
        ),
    ),
    target_shape="http://host[:port][/prefix] or https://host[:port][/prefix]",
    value_unit="",
)
