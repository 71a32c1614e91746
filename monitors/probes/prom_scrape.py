"""The ``prom_scrape`` monitor type: GET a Prometheus exposition and read one metric from it.

Contract (NanoMon's ``prom_scrape`` type), plain data in and out:

* Target: the exposition's URL, ``http://`` or ``https://`` (``http://host:9100/metrics``).
* Properties: ``metric`` (required), ``labels`` (an optional filter, ``k=v,k2="v"``),
  ``valueMult`` (1), ``timeout`` (5s, one deadline for the request, the body and the parse),
  ``validateTLS`` (true).
* The answer must be HTTP 200 (else Failed ``scrape returned HTTP 503``); the body (at most
  ``MAX_EXPOSITION_BYTES``, else Failed) is parsed with prometheus_client's text parser on a
  thread of its own (a big exposition never stalls the other probes); a parse error is Failed
  ``could not parse the exposition: <reason>``.
* Samples that match ``metric``: a gauge's, counter's or untyped metric's samples named
  ``metric`` (a counter's ``metric_total`` too, so ``http_requests`` and
  ``http_requests_total`` both work), a summary's or histogram's ``metric_sum`` when
  ``metric`` names the summary or histogram, and any sample named exactly ``metric``
  (``h_count``, ``h_bucket``). ``labels`` keeps those whose labels have every value given
  (``k=""`` matches a sample without ``k``, as in PromQL).
* Each matching sample is an output named by its series, ``name{a="b"}`` (``name{}``
  without labels; values escaped as in the text format), holding the sample's value as
  scraped (a string for NaN and ±Inf); at most ``MAX_SERIES_OUTPUTS`` of them, in exposition
  order. ``value`` is the first match × ``valueMult`` (also the result value),
  ``result_count`` the matches, ``respTime`` the ms until the body was read.
* No match: Failed ``no sample of <metric> matches`` (``… matches {k="v"}`` with a filter).
  A first match that is NaN or infinite: Failed (NanoMon stores finite numbers only).
* Connection errors, timeouts and the policy: the ``http`` probe's messages.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from prometheus_client.parser import text_string_to_metric_families

from lib.durations import format_seconds
from lib.regex import MatchTimeout, run_bounded
from monitors.probes.base import (
    MonitorTemplate,
    OutputSpec,
    OutputValue,
    ProbeFailure,
    ProbeResult,
    ProbeType,
    PropertySpec,
    describe_error,
    parse_timeout,
)
from monitors.probes.http import VALIDATE_TLS, check_target
from monitors.probes.http_client import decode_body
from monitors.probes.http_get import fetch
from monitors.probes.prometheus import series_text

# An exposition larger than this fails the run (kube-state-metrics on a big cluster: tens of MB).
MAX_EXPOSITION_BYTES = 16 * 1024 * 1024

# At most this many matching samples become outputs (all of them count in result_count).
MAX_SERIES_OUTPUTS = 50

# The least time the parse gets when the request used up (nearly) all of the timeout.
MIN_PARSE_SECONDS = 0.25

_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_BARE_VALUE = re.compile(r'[^\s,="\\]+')
_QUOTED_VALUE = re.compile(r'"((?:[^"\\\n]|\\.)*)"')
_UNESCAPE = re.compile(r"\\(.)")
_ESCAPES = {"\\": "\\", '"': '"', "n": "\n"}
_SUMMED_TYPES = frozenset({"summary", "histogram"})

LABELS_SHAPE = 'k=v pairs separated by commas, e.g. job=node,instance="db:9100"'


# --- Property parsers: each raises ValueError with a short reason ------------------------------


def _unescape(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        escaped = match.group(1)
        if escaped not in _ESCAPES:
            raise ValueError(f'unknown escape \\{escaped} (use \\\\, \\" or \\n)')
        return _ESCAPES[escaped]

    return _UNESCAPE.sub(replace, text)


def parse_labels(text: str) -> dict[str, str]:
    """``k=v,k2="v 2"`` → ``{"k": "v", "k2": "v 2"}``: label names as Prometheus spells them,
    values bare (no spaces, commas, quotes, ``=`` or backslashes) or double-quoted with the
    text format's escapes. Strict: an empty entry, a repeated name or anything left over is
    refused, naming the position (1-based)."""
    labels: dict[str, str] = {}
    position = 0
    length = len(text)

    def problem(reason: str) -> ValueError:
        return ValueError(f"must be {LABELS_SHAPE}: {reason}")

    def skip_spaces() -> None:
        nonlocal position
        while position < length and text[position] in " \t":
            position += 1

    while True:
        skip_spaces()
        name = _LABEL_NAME.match(text, position)
        if name is None:
            raise problem(f"expected a label name at character {position + 1}")
        position = name.end()
        skip_spaces()
        if position >= length or text[position] != "=":
            raise problem(f"expected = after {name.group()!r}")
        position += 1
        skip_spaces()
        if position < length and text[position] == '"':
            quoted = _QUOTED_VALUE.match(text, position)
            if quoted is None:
                raise problem(f"the value of {name.group()!r} has no closing quote")
            try:
                value = _unescape(quoted.group(1))
            except ValueError as error:
                raise problem(f"the value of {name.group()!r} has an {error}") from None
            position = quoted.end()
        else:
            bare = _BARE_VALUE.match(text, position)
            if bare is None:
                raise problem(f'{name.group()!r} has no value (write {name.group()}="" for empty)')
            value = bare.group()
            position = bare.end()
        if name.group() in labels:
            raise problem(f"label {name.group()!r} is given twice")
        labels[name.group()] = value
        skip_spaces()
        if position >= length:
            return labels
        if text[position] != ",":
            raise problem(f"unexpected {text[position]!r} at character {position + 1}")
        position += 1


def parse_metric(text: str) -> str:
    """A metric name as Prometheus spells them (``node_load1``, ``http_requests_total``)."""
    name = text.strip()
    if not re.fullmatch(r"[a-zA-Z_:][a-zA-Z0-9_:]*", name):
        raise ValueError(f"must be a metric name such as node_load1, got {text!r}")
    return name


def parse_multiplier(text: str) -> float:
    """A finite decimal number (``1``, ``0.001``, ``1e-6``, ``-1``)."""
    try:
        number = float(text.strip())
    except ValueError:
        raise ValueError(f"must be a number such as 1 or 0.001, got {text!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"must be a finite number, got {text!r}")
    return number


# --- Reading the exposition --------------------------------------------------------------------


def _wanted_names(family_name: str, family_type: str, metric: str) -> frozenset[str]:
    if family_name == metric and family_type in _SUMMED_TYPES:
        return frozenset({f"{metric}_sum"})
    if family_name == metric and family_type == "counter":
        return frozenset({metric, f"{metric}_total"})
    return frozenset({metric})


def matching_samples(text: str, metric: str, labels: Mapping[str, str]) -> list[tuple[str, float]]:
    """(series, value) of every sample of ``metric`` whose labels match, in exposition order.

    Raises ``ValueError`` (or another parser error) when the text is no valid exposition; the
    whole text is parsed, so a broken line after the match is still an error.
    """
    found: list[tuple[str, float]] = []
    for family in text_string_to_metric_families(text):
        wanted = _wanted_names(family.name, family.type, metric)
        for sample in family.samples:
            if sample.name not in wanted:
                continue
            if any(sample.labels.get(key, "") != value for key, value in labels.items()):
                continue
            found.append((series_text({**sample.labels, "__name__": sample.name}), sample.value))
    return found


def _series_key(series: str) -> str:
    """An output name: the series, with ``{}`` when it has no labels (never a bare name, so
    no series can take the place of ``value``, ``respTime`` or ``result_count``)."""
    return series if series.endswith("}") else f"{series}{{}}"


def _as_output(number: float) -> OutputValue:
    if math.isfinite(number):
        return float(number)
    return "NaN" if math.isnan(number) else ("+Inf" if number > 0 else "-Inf")


async def probe(target: str, properties: Mapping[str, object]) -> ProbeResult:
    """Scrape ``target`` once and read ``metric``; see the module docstring."""
    timeout = float(properties["timeout"])  # type: ignore[arg-type]
    metric = str(properties["metric"])
    wanted: Mapping[str, str] = properties.get("labels") or {}  # type: ignore[assignment]
    fetched = await fetch(
        target,
        timeout=timeout,
        validate_tls=bool(properties["validateTLS"]),
        max_bytes=MAX_EXPOSITION_BYTES,
        headers={"Accept": "text/plain;version=0.0.4;q=1,*/*;q=0.1"},
    )
    if fetched.status != 200:
        raise ProbeFailure(f"scrape returned HTTP {fetched.status}")
    if fetched.truncated:
        raise ProbeFailure(f"exposition larger than {MAX_EXPOSITION_BYTES // (1024 * 1024)} MiB")
    text = decode_body(fetched.body, fetched.charset)
    budget = max(timeout - fetched.elapsed_ms / 1000.0, MIN_PARSE_SECONDS)
    try:
        found = await run_bounded(
            matching_samples, text, metric, wanted, timeout=budget, key=("prom_scrape", target)
        )
    except MatchTimeout as error:
        if error.still_running:
            raise ProbeFailure("an earlier parse of this exposition is still running") from None
        raise ProbeFailure(
            f"parsing the exposition did not finish within the timeout ({format_seconds(timeout)})"
        ) from None
    except Exception as error:  # the parser raises ValueError, IndexError, KeyError, …
        raise ProbeFailure(f"could not parse the exposition: {describe_error(error)}") from None
    if not found:
        shown = series_text(dict(wanted)) if wanted else ""
        raise ProbeFailure(f"no sample of {metric} matches{' ' + shown if shown else ''}")
    first_series, first = found[0]
    if not math.isfinite(first):
        raise ProbeFailure(f"{_series_key(first_series)} is {_as_output(first)}, not a number")
    value = first * float(properties["valueMult"])  # type: ignore[arg-type]
    outputs: dict[str, OutputValue] = {
        _series_key(series): _as_output(number) for series, number in found[:MAX_SERIES_OUTPUTS]
    }
    outputs.update(value=value, result_count=float(len(found)), respTime=fetched.elapsed_ms)
    return ProbeResult(value=value, outputs=outputs)


PROPERTIES = (
    PropertySpec(
        "metric",
        "Metric to read, e.g. node_load1 or http_requests_total; a summary or histogram "
        "gives its _sum.",
        parse=parse_metric,
        required=True,
    ),
    PropertySpec(
        "labels",
        f"Only samples with these label values: {LABELS_SHAPE}. The first match is the value.",
        parse=parse_labels,
    ),
    PropertySpec(
        "valueMult",
        "Number the value is multiplied by, e.g. 1000 for seconds to ms or 0.001 for bytes to kB.",
        default="1",
        parse=parse_multiplier,
    ),
    PropertySpec(
        "timeout",
        "Deadline for the whole scrape, body and parse included, as a duration (500ms, 5s).",
        default="5s",
        parse=parse_timeout,
    ),
    VALIDATE_TLS,
)

OUTPUTS = (
    OutputSpec(
        "value",
        "number",
        "The first matching sample × valueMult (the result value). Every matching sample is "
        'also an output named by its series, e.g. http_requests_total{code="200"} (up to 50; '
        "shown with the result, not usable in rules).",
    ),
    OutputSpec("result_count", "number", "Samples that matched metric and labels."),
    OutputSpec(
        "respTime",
        "number",
        "Milliseconds from sending the request until the exposition was read.",
        unit="ms",
    ),
)

PROBE = ProbeType(
    kind="prom_scrape",
    label="Prometheus metric (scrape)",
    short_label="Scrape",
    target_help="URL of a Prometheus exposition, http:// or https://, e.g. "
    "http://host:9100/metrics",
    properties=PROPERTIES,
    outputs=OUTPUTS,
    check_target=check_target,
    probe=probe,
    template=MonitorTemplate(
        title="Prometheus metric (scrape an exporter)",
        name="My exporter metric",
        target="http://localhost:9100/metrics",
        interval="1m",
        rule="value < 4",
        properties={"metric": "node_load1", "timeout": "5s"},
        rule_examples=("value < 4", "value > 0", "result_count >= 2"),
    ),
    target_shape="http://host[:port]/path or https://host[:port]/path",
    value_unit="",
)
