"""docs/connvitals.md's worked example is monitor JSON NanoMon accepts as written: every
monitor passes the API's checks (types, targets, properties, rules, deadlines under the
interval), and the timeouts it lowers would be refused otherwise."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError

from monitors.validation import check_monitor_definition

DOC = Path(settings.BASE_DIR) / "docs" / "connvitals.md"


def example_monitors() -> list[dict]:
    [block] = re.findall(r"```json\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    return json.loads(block)


def check(monitor: dict) -> None:
    check_monitor_definition(
        name=monitor["name"],
        kind=monitor["type"],
        interval=monitor["interval"],
        target=monitor["target"],
        rule=monitor["rule"],
        properties=monitor["properties"],
    )


def test_the_example_is_five_monitors_of_the_three_types():
    monitors = example_monitors()

    assert [monitor["type"] for monitor in monitors] == [
        "ping",
        "portscan",
        "ping",
        "traceroute",
        "portscan",
    ]


@pytest.mark.parametrize("monitor", example_monitors(), ids=lambda monitor: monitor["name"])
def test_every_monitor_of_the_example_is_accepted(monitor):
    check(monitor)


@pytest.mark.parametrize("monitor", example_monitors(), ids=lambda monitor: monitor["name"])
def test_the_usual_timeout_would_be_refused_at_the_examples_one_second(monitor):
    usual = {"ping": "2s", "portscan": "10s", "traceroute": "10s"}[monitor["type"]]
    unlowered = {**monitor, "properties": {**monitor["properties"], "timeout": usual}}

    with pytest.raises(ValidationError, match="must be less than the monitor interval"):
        check(unlowered)
