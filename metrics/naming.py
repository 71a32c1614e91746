"""NanoMon's per-monitor metric names, made legal for Prometheus.

NanoMon names a monitor's gauge ``nanomon_`` + the name lowercased with spaces as ``_``.
Names with other characters (``/``, ``.``, ``-``, ``✓``) broke NanoMon's registration and the
monitor's metrics were silently dropped; here every character outside ``[a-z0-9_]`` becomes
``_`` instead. ``:`` is legal in metric names but reserved for recording rules, so it becomes
``_`` too.
"""

from __future__ import annotations

import re

PREFIX = "nanomon_"
_ILLEGAL = re.compile(r"[^a-zA-Z0-9_]")


def monitor_metric_name(monitor_name: str) -> str:
    """``Web-1 / API.v2 ✓`` → ``nanomon_web_1___api_v2__`` (one ``_`` per character)."""
    return PREFIX + _ILLEGAL.sub("_", monitor_name.lower().replace(" ", "_"))
