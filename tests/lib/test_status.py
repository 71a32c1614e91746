"""The status vocabulary (lib.status): one home for a run's numbers, words, labels and colours."""

from __future__ import annotations

from lib.status import (
    DISABLED_STYLE,
    RESULT_STATUS_KEYS,
    STATUS_HELP,
    STATUS_WORDS,
    Status,
    status_badge,
    status_key,
    status_style,
)
from monitors.engine import CheckStatus


def test_the_engine_numbers_runs_as_the_vocabulary_does():
    assert [(member.name, member.value) for member in CheckStatus] == [
        (member.name, member.value) for member in Status
    ]


def test_the_api_words_and_the_metrics_words():
    assert Status.choices == [(0, "OK"), (1, "Error"), (2, "Failed")]
    assert STATUS_HELP == "0 OK, 1 Error, 2 Failed"
    assert STATUS_WORDS == {0: "ok", 1: "error", 2: "failed"}


def test_the_pages_name_each_status_and_a_disabled_monitor():
    assert [status_key(status) for status in (*Status, None)] == [
        "good",
        "error",
        "failure",
        "unknown",
    ]
    assert status_key(Status.FAILED, enabled=False) == "disabled"
    assert status_style(7) == status_style(None)  # an unknown number reads as Unknown
    assert status_style(Status.OK, enabled=False) == DISABLED_STYLE
    assert RESULT_STATUS_KEYS == {"good": 0, "error": 1, "failure": 2}


def test_the_admin_badge_is_the_label_in_its_colour():
    assert status_badge(Status.ERROR) == '<b style="color:#9a5b00">Error</b>'
    assert status_badge(None, enabled=False) == '<b style="color:#5f6368">Disabled</b>'
