"""The results page (web/views/results.py): the latest across monitors, by status, paged."""

from __future__ import annotations

from lib.status import Status
from tests.web.conftest import add_results


def test_the_results_page_lists_the_latest_across_monitors(viewer, make_monitor, start):
    add_results(make_monitor(name="one"), [Status.OK] * 70, start=start)
    add_results(make_monitor(name="two"), [Status.FAILED] * 70, start=start)
    page = viewer.get("/results").content.decode()
    assert page.count('data-label="Time"') == 100
    assert "Older results" in page
    failures = viewer.get("/results?status=failure").content.decode()
    assert failures.count('status-failure">Failure') == 70
    assert ">one</a>" not in failures


def test_the_results_page_says_when_there_is_nothing(viewer):
    page = viewer.get("/results").content.decode()
    assert "No results yet" in page


def test_a_bad_status_or_cursor_is_ignored_and_said(viewer, make_monitor, start):
    add_results(make_monitor(name="one"), [Status.OK] * 3, start=start)
    page = viewer.get("/results?status=0&before_id=x").content.decode()
    assert "Filter status ignored: it is one of good, error, failure." in page
    assert "Showing the newest results: before_id must be a positive integer." in page
    assert page.count('data-label="Time"') == 3
