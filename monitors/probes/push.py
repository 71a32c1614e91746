"""The ``push`` monitor type: the job reports in, and NanoMon raises Failed when it does not.

Nothing is probed. A push monitor is *passive* (``ProbeType.missed``): its schedule holds its
deadline, the moment a ping is due by (the last ping, or the save, plus the interval plus
``grace``); when the dispatcher claims it there, the run it records is Failed with
``no ping within 5m (+1m grace)``, and the next deadline is one interval later, so each missed
period is recorded exactly once. A ping records its own result and moves the deadline
(``loop.pings``; the ping URLs are in docs/push.md).

Contract, plain data in and out:

* Target: what reports in, as free text (``nightly backup on db1``): shown, never contacted.
* Interval: the period, how often the job is expected (nixcloud's ``timers.check``).
* Properties: ``grace`` (1m: how late a ping may be, nixcloud's ``timers.timeout`` minus the
  period); ``schedule``, a cron expression (``0 2 * * *``, ``@daily``: ``lib.cron``) read in
  ``tz`` (UTC), when the job runs at set times rather than every period: a ping is then due
  at each time the expression names, plus the grace, and the interval is not used for
  deadlines.
* Outputs of a ping: ``exitCode`` (the code a ping reported; 0 for a plain success ping, 1 for
  ``/fail`` and Uptime Kuma's ``status=down``), ``duration`` (ms since the ``/start`` ping
  of this run, when there was one; also the value; Uptime Kuma's ``ping=`` otherwise).
* A success ping is OK unless the monitor's rule says Error (``duration < 600000``); a
  failure ping (``/fail``, an exit code other than 0, ``status=down``) is Error with the
  message the job sent (or ``job reported failure`` / ``exit code 3``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from lib.cron import Cron, parse_cron, parse_zone
from lib.durations import format_seconds, parse_duration
from monitors.probes.base import (
    MonitorTemplate,
    OutputSpec,
    PassiveSchedule,
    ProbeFailure,
    ProbeResult,
    ProbeType,
    PropertySpec,
)

# A ping's message keeps this many bytes of the request body (UTF-8, bad bytes replaced).
BODY_LIMIT = 10_000


def parse_grace(text: str) -> float:
    """A Go duration from 0s to 7 days."""
    try:
        seconds = parse_duration(text)
    except ValueError:
        raise ValueError(f"must be a duration such as 1m or 30s, got {text!r}") from None
    if seconds < 0:
        raise ValueError("must not be negative")
    if seconds > 7 * 86400:
        raise ValueError(f"must be at most 168h, got {format_seconds(seconds)}")
    return seconds


PROPERTIES = (
    PropertySpec(
        "grace",
        "How late a ping may come after the period before the run is Failed, e.g. 1m.",
        default="1m",
        parse=parse_grace,
    ),
    PropertySpec(
        "schedule",
        "A cron expression (0 2 * * *, @daily) when the job runs at set times: a ping is due "
        "at each, plus the grace; unset: one every interval.",
        parse=parse_cron,
    ),
    PropertySpec(
        "tz",
        "The time zone the schedule is read in, an IANA name (Europe/Berlin).",
        default="UTC",
        parse=parse_zone,
    ),
)

OUTPUTS = (
    OutputSpec(
        "exitCode",
        "number",
        "The exit code the job reported: 0 for a success ping, 1 for /fail or status=down.",
    ),
    OutputSpec(
        "duration",
        "number",
        "Milliseconds since this run's /start ping (Uptime Kuma: its ping= value).",
        unit="ms",
    ),
)


def check_target(target: str) -> None:
    if not target.strip():
        raise ValueError("must name what reports in, e.g. nightly backup on db1")


def missed_message(interval: str, parsed: Mapping[str, object]) -> str:
    """The message of a missed deadline: ``no ping within 5m (+1m grace)``, or for a schedule
    ``no ping for schedule 0 2 * * * (Europe/Berlin) (+1h grace)``."""
    grace = _short(float(parsed["grace"]))
    schedule: Cron | None = parsed.get("schedule")  # type: ignore[assignment]
    if schedule is not None:
        return f"no ping for schedule {schedule.text} ({parsed['tz']}) (+{grace} grace)"
    return f"no ping within {interval} (+{grace} grace)"


def deadline_after(moment: datetime, interval: float, parsed: Mapping[str, object]) -> datetime:
    """When a ping expected after ``moment`` is late: the next time the schedule names (or
    ``moment`` plus the interval), plus the grace."""
    schedule: Cron | None = parsed.get("schedule")  # type: ignore[assignment]
    expected = (
        schedule.next_after(moment, parsed["tz"])  # type: ignore[arg-type]
        if schedule is not None
        else moment + timedelta(seconds=interval)
    )
    return expected + timedelta(seconds=float(parsed["grace"]))


def expected_at(deadline: datetime, parsed: Mapping[str, object]) -> datetime:
    """The time a deadline's ping was expected: the deadline less the grace."""
    return deadline - timedelta(seconds=float(parsed["grace"]))


def _short(seconds: float) -> str:
    """``1h``, ``1m``, ``90s``: whole hours or minutes as such, else seconds."""
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return format_seconds(seconds)


async def probe(target: str, properties: Mapping[str, object]) -> ProbeResult:
    """Nothing to probe: a push monitor's runs are its pings and its missed deadlines."""
    raise ProbeFailure("a push monitor is not probed: it waits for its job's pings")


PROBE = ProbeType(
    kind="push",
    label="Push (the job reports in)",
    short_label="Push",
    target_help="What reports in, as free text (e.g. nightly backup on db1); never contacted.",
    properties=PROPERTIES,
    outputs=OUTPUTS,
    check_target=check_target,
    probe=probe,
    template=MonitorTemplate(
        title="Cron job or heartbeat (push)",
        name="Nightly backup",
        target="backup job on db1",
        interval="24h",
        rule="exitCode == 0",
        properties={"grace": "1h"},
        rule_examples=("exitCode == 0", "exitCode == 0 && duration < 3600000"),
    ),
    deadline_for=lambda parsed: 0.0,
    target_shape="free text naming the job",
    passive=PassiveSchedule(
        deadline_after=deadline_after, expected=expected_at, missed_message=missed_message
    ),
)
