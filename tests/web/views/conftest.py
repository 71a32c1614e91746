"""The read pages' shared fixture and helpers: monitors with a history of results."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from lib.status import Status
from tests.web.conftest import add_results


@pytest.fixture
def start():
    return timezone.now() - timedelta(hours=2)


def monitors_with_history(make_monitor, start, count: int) -> list:
    monitors = []
    for index in range(count):
        monitor = make_monitor(name=f"monitor {index:03}", target=f"https://{index}.example.net/")
        add_results(monitor, [Status.OK, Status.ERROR, Status.OK] * 8, start=start)
        monitors.append(monitor)
    return monitors


def names_in_order(page: str, kind: str) -> list[str]:
    """The monitor names of a page's cards or tiles, in order."""
    return re.findall(rf'<li class="{kind} [^"]*" [^>]*data-name="([^"]*)"', page)
