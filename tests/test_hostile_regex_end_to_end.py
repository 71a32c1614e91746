"""Issue 19 item 1 with real processes: hostile regular expressions in some monitors must not
stop a Celery worker from running the others.

Before RE2, ``(a+)+$`` against a body of ``a``s and a ``!`` held the GIL for good and froze the
worker process: no monitor on it ever produced a result again. Waits and bounds here are
generous; the gaps are printed.
"""

from __future__ import annotations

import time

import pytest
from django.utils import timezone

from monitors.probes.http import MAX_BODY_BYTES
from monitors.services import monitor_create
from results.models import Result
from tests.monitors.probes.test_http_regex import hostile_app
from tests.support.http_servers import serve_app
from tests.test_end_to_end import celery_processes, largest_gaps, wait_for  # noqa: F401

pytestmark = pytest.mark.e2e

# Linear, yet about 4.5 s per MiB here (measured 2026-12-06: 1.16 s for 256 KiB). A rule gets
# what is left of its 1 s timeout plus the engine's 0.5 s grace: at 256 KiB a quiet machine
# finished the match within that (a clean-clone CI run saw the slow rule pass), so /ab serves the
# full 1 MiB the body cap allows: about 3x the rule's budget.
DFA_HOSTILE = r"[ab]*a[ab]{1000}c"


def test_hostile_regexes_do_not_stop_a_worker_running_the_other_monitors(celery_processes):  # noqa: F811
    interval, watch = 2.0, 20.0
    with serve_app(hostile_app(MAX_BODY_BYTES, MAX_BODY_BYTES)) as server:
        catastrophic = monitor_create(
            name="catastrophic", kind="http", target=server.url("/a"), interval="2s",
            properties={"bodyRegex": "(a+)+$", "timeout": "1500ms"},
            rule="body !~ '(a|aa)+$' && body =~ '(.*a){20}'", enabled=True,
        )  # fmt: skip
        slow_body_regex = monitor_create(
            name="slow bodyRegex", kind="http", target=server.url("/ab"), interval="2s",
            properties={"bodyRegex": DFA_HOSTILE, "timeout": "1s"}, enabled=True,
        )  # fmt: skip
        slow_rule = monitor_create(
            name="slow rule", kind="http", target=server.url("/ab"), interval="2s",
            properties={"timeout": "1s"}, rule=f"body !~ '{DFA_HOSTILE}'", enabled=True,
        )  # fmt: skip
        quick = [
            monitor_create(
                name=f"quick {number:02d}", kind="http", target=server.url("/ok"),
                interval="2s", properties={"bodyRegex": r"depth: (\d+)"},
                rule="regexMatch == 3", enabled=True,
            ).id
            for number in range(10)
        ]  # fmt: skip
        hostile = [catastrophic.id, slow_body_regex.id, slow_rule.id]

        def every_monitor_ran():
            ids = [*quick, *hostile]
            ran = set(Result.objects.filter(monitor_id__in=ids).values_list("monitor", flat=True))
            return len(ran) == len(ids)

        wait_for(every_monitor_ran, what="a result of every monitor")
        since = timezone.now()
        time.sleep(watch)
        until = timezone.now()

    gaps = largest_gaps([*quick, *hostile], since, until)
    window = Result.objects.filter(date__gte=since, date__lte=until)
    quick_runs = window.filter(monitor_id__in=quick)
    print(
        f"{len(quick)} quick monitors every {interval:g}s over {watch:g}s beside 3 hostile ones: "
        f"{quick_runs.count()} results, largest gap per quick monitor: "
        f"max {max(gaps[i] for i in quick):.2f}s"
    )
    for monitor in (catastrophic, slow_body_regex, slow_rule):
        runs = list(window.filter(monitor=monitor).order_by("date"))
        messages = sorted({run.message for run in runs})
        print(f"{monitor.name}: {len(runs)} runs, largest gap {gaps[monitor.id]:.2f}s, {messages}")

    assert not quick_runs.exclude(status=Result.Status.OK).exists()
    # Generous: a batch holding a hostile check ends by that check's deadline (1-1.5 s).
    assert max(gaps[i] for i in quick) <= 2 * interval + 2 + 2, gaps
    assert not window.filter(monitor=catastrophic).exclude(status=Result.Status.OK).exists()
    slow_messages = set(
        window.filter(monitor_id__in=[slow_body_regex.id, slow_rule.id]).values_list(
            "message", flat=True
        )
    )
    assert slow_messages <= {
        "bodyRegex did not finish within the timeout (1s)",
        "bodyRegex: an earlier search with this pattern is still running past its timeout",
        "rule eval error: matching a regular expression did not finish within the timeout (1s)",
        "rule eval error: an earlier evaluation of this rule is still matching past its deadline",
    }, slow_messages
    assert gaps[slow_body_regex.id] <= 10, gaps
    assert gaps[slow_rule.id] <= 10, gaps
