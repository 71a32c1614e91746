"""Shared fixtures: a frozen-ish clock value and a monitor factory going through the services."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitors.services import monitor_create

NOW = datetime(2026, 11, 21, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture
def make_monitor(now):
    """Create a monitor through ``monitor_create`` (dispatch requests are no-ops in tests)."""

    def make(**fields):
        defaults = {
            "name": "web",
            "kind": "http",
            "target": "http://127.0.0.1:9/",
            "interval": "30s",
            "enabled": True,
        }
        defaults.update(fields)
        saved_at = defaults.pop("now", now)
        return monitor_create(now=saved_at, **defaults)

    return make
