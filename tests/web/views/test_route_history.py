"""A traceroute monitor's page lists its route history: the results that kept a ``route``
(the first trace and each change), newest first. Real traces over a routed path in network
namespaces, recorded as the loop records them; and stored results for the page's rules."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from lib.status import Status
from monitors.engine import CheckRequest, run_check
from results.models import Result
from results.selectors import monitor_memories
from results.services import RunRecord, monitor_states_update, results_store
from tests.support import netns, netns_routes

pytestmark = pytest.mark.django_db


def routes_on_page(html: str) -> list[str]:
    table = re.search(r"<table class=\"kv\" data-route-history>(.*?)</table>", html, re.S)
    return re.findall(r"<code>([^<]*)</code>", table.group(1)) if table else []


def store(monitor, at, outputs) -> None:
    Result.objects.create(
        monitor=monitor,
        monitor_name=monitor.name,
        monitor_target=monitor.target,
        date=at,
        scheduled_for=at,
        status=Status.OK,
        value=1.0,
        outputs=outputs,
    )


def test_the_page_lists_the_results_with_a_route_newest_first(viewer, make_monitor):
    now = timezone.now()  # the page shows the last 90 days of the real clock
    monitor = make_monitor(kind="traceroute", target="192.0.2.1", now=now - timedelta(hours=1))
    store(monitor, now - timedelta(minutes=30), {"route": "10.0.0.1 192.0.2.1", "reached": 1})
    store(monitor, now - timedelta(minutes=20), {"routeChanged": 0, "reached": 1})
    store(monitor, now - timedelta(minutes=10), {"route": "10.0.0.1 * 192.0.2.1", "reached": 1})
    store(monitor, now - timedelta(minutes=5), {"routeChanged": 0, "reached": 1})

    html = viewer.get(f"/monitors/{monitor.id}").content.decode()

    assert "Route history" in html
    assert routes_on_page(html) == ["10.0.0.1 * 192.0.2.1", "10.0.0.1 192.0.2.1"]


def test_a_traceroute_monitor_without_a_trace_says_so(viewer, make_monitor):
    monitor = make_monitor(kind="traceroute", target="192.0.2.1")

    html = viewer.get(f"/monitors/{monitor.id}").content.decode()

    assert "No route traced yet." in html


def test_other_types_have_no_route_history(viewer, make_monitor):
    now = timezone.now()
    monitor = make_monitor(kind="ping", target="192.0.2.1")
    store(monitor, now, {"route": "not a traceroute output"})

    html = viewer.get(f"/monitors/{monitor.id}").content.decode()

    assert "Route history" not in html


@pytest.mark.netns
def test_real_traces_recorded_by_the_loop_show_each_route_once(viewer, make_monitor):
    now = timezone.now()
    if reason := netns.skip_reason():
        pytest.skip(reason)
    with netns_routes.routed_path() as path:
        monitor = make_monitor(kind="traceroute", target=path.target, rule="routeChanged == 0")
        statuses = []
        for minute in range(4):
            if minute == 2:
                path.reroute_via_r3()
            memory = monitor_memories([monitor]).get(monitor.id)
            request = CheckRequest(
                kind="traceroute", target=path.target, rule=monitor.rule, memory=memory
            )
            check = asyncio.run(run_check(request))
            at = now + timedelta(minutes=minute)
            run = RunRecord(monitor.id, monitor.name, monitor.target, at, check)
            results_store([run])
            monitor_states_update([run])
            statuses.append(check.status.value)
        first, rerouted = path.first_path(), [path.address(2), path.address(14), path.target]

    html = viewer.get(f"/monitors/{monitor.id}").content.decode()

    assert statuses == [Status.OK, Status.OK, Status.ERROR, Status.OK]
    assert routes_on_page(html) == [" ".join(rerouted), " ".join(first)]


def test_routes_older_than_the_window_are_left_out(viewer, make_monitor):
    now = timezone.now()
    monitor = make_monitor(kind="traceroute", target="192.0.2.1", now=now - timedelta(days=100))
    store(monitor, now - timedelta(days=95), {"route": "10.0.0.1 192.0.2.1", "reached": 1})
    store(monitor, now - timedelta(days=1), {"route": "10.0.0.2 192.0.2.1", "reached": 1})

    html = viewer.get(f"/monitors/{monitor.id}").content.decode()

    assert routes_on_page(html) == ["10.0.0.2 192.0.2.1"]
