"""Quiet logs: the routine tasks' per-run INFO lines are dropped, WARNING and ERROR lines and
other tasks' lines pass, and the periodic summary counts the window from indexed queries."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from celery.app import trace
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from alerts.models import AlertLevel, AlertState
from lib.status import Status
from metrics import tasks
from metrics.summary import activity_summary, log_activity_summary
from monitors.models import Monitor
from nanomon.logs import RoutineTaskFilter
from results.models import Result

DISPATCH = "monitors.tasks.dispatch_due_monitors"
DELIVER = "alerts.tasks.deliver_notification"


class Collected(logging.Handler):
    """A handler with the LOGGING setting's filter, keeping what it would write."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.addFilter(RoutineTaskFilter())
        self.lines: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.levelname, record.getMessage()))


@pytest.fixture
def written():
    """Records reaching the console handler with the root logger at ``INFO``."""
    root = logging.getLogger()
    handler, level = Collected(), root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield handler.lines
    root.removeHandler(handler)
    root.setLevel(level)


def celery_lines_of(task: str) -> None:
    """What Celery logs for one run of ``task``: beat's send, the worker's receipt and
    success, with Celery's own loggers and messages."""
    context = {"id": "c0ffee", "name": task, "args": "()", "kwargs": "{}", "eta": None}
    logging.getLogger("celery.beat").info("Scheduler: Sending due task %s (%s)", "entry", task)
    logging.getLogger("celery.worker.strategy").info(
        trace.LOG_RECEIVED, context, extra={"data": context}
    )
    trace.info(trace.LOG_SUCCESS, {**context, "runtime": 0.01, "return_value": 3})


def test_the_console_handler_of_every_process_has_the_filter():
    console = settings.LOGGING["handlers"]["console"]
    assert console["filters"] == ["routine_tasks"]
    assert settings.LOGGING["filters"]["routine_tasks"]["()"] == "nanomon.logs.RoutineTaskFilter"


def test_a_tick_writes_nothing_at_info_but_other_tasks_still_do(written):
    celery_lines_of(DISPATCH)
    celery_lines_of("monitors.tasks.run_probe_batch")
    celery_lines_of("alerts.tasks.sweep_alerts")
    assert written == []

    celery_lines_of(DELIVER)
    assert [message.split("[")[0] for _, message in written] == [
        f"Scheduler: Sending due task entry ({DELIVER})",
        f"Task {DELIVER}",
        f"Task {DELIVER}",
    ]


def test_a_routine_task_that_raises_is_still_logged_at_error_and_warnings_stay(written):
    context = {
        "id": "c0ffee", "name": DISPATCH, "exc": "OperationalError('gone')", "traceback": "",
        "args": "()", "kwargs": "{}", "description": "raised unexpected", "internal": False,
    }  # fmt: skip
    trace.logger.log(logging.ERROR, trace.LOG_FAILURE, context, extra={"data": context})
    logging.getLogger("celery.worker.request").warning(
        "Soft time limit (%ss) exceeded for %s[%s]", 5, DISPATCH, "c0ffee"
    )

    assert written == [
        ("ERROR", f"Task {DISPATCH}[c0ffee] raised unexpected: OperationalError('gone')"),
        ("WARNING", f"Soft time limit (5s) exceeded for {DISPATCH}[c0ffee]"),
    ]


def test_at_debug_every_tick_line_is_written_again(written):
    logging.getLogger().setLevel(logging.DEBUG)
    celery_lines_of(DISPATCH)
    assert len(written) == 3


@pytest.mark.django_db
def test_the_summary_counts_the_window_the_due_backlog_and_the_monitors_down(make_monitor):
    now = timezone.now()
    ok, failing, late = (make_monitor(name=name, now=now) for name in ("ok", "failing", "late"))
    Monitor.objects.filter(pk__in=[ok.pk, failing.pk]).update(
        next_run_at=now + timedelta(seconds=5)
    )
    Monitor.objects.filter(pk=late.pk).update(next_run_at=now - timedelta(seconds=42))

    def result(monitor, status, seconds_ago):
        date = now - timedelta(seconds=seconds_ago)
        Result.objects.create(
            monitor=monitor, monitor_name=monitor.name, monitor_target=monitor.target,
            date=date, scheduled_for=date, status=status,
        )  # fmt: skip

    result(ok, Status.OK, 10)
    result(ok, Status.OK, 40)
    result(failing, Status.ERROR, 20)
    result(failing, Status.FAILED, 50)
    result(ok, Status.OK, 61)  # before the window
    AlertState.objects.create(monitor=failing, state=AlertLevel.DOWN)
    AlertState.objects.create(monitor=ok, state=AlertLevel.UP)

    summary = activity_summary(now=now, window=timedelta(seconds=60))

    assert (summary.runs, summary.monitors) == (4, 2)
    assert (summary.ok, summary.error, summary.failed) == (2, 1, 1)
    assert summary.due == 1
    assert summary.lag_seconds == pytest.approx(42)
    assert summary.down == 1
    assert summary.line() == (
        "last 60s: 4 runs of 2 monitors (ok 2, error 1, failed 1); "
        "dispatcher lag 42.0s (1 due); 1 down"
    )


@pytest.mark.django_db
def test_the_summary_is_info_and_warning_once_the_backlog_is_older_than_the_window(
    make_monitor, caplog
):
    now = timezone.now()
    monitor = make_monitor(now=now)
    caplog.set_level(logging.INFO, logger="nanomon.summary")

    Monitor.objects.filter(pk=monitor.pk).update(next_run_at=now + timedelta(seconds=1))
    log_activity_summary(now=now, window=timedelta(seconds=60))
    Monitor.objects.filter(pk=monitor.pk).update(next_run_at=now - timedelta(seconds=90))
    log_activity_summary(now=now, window=timedelta(seconds=60))

    assert [record.levelname for record in caplog.records] == ["INFO", "WARNING"]
    assert "dispatcher lag 0.0s (0 due)" in caplog.records[0].getMessage()
    assert "dispatcher lag 90.0s (1 due)" in caplog.records[1].getMessage()


@pytest.mark.django_db
def test_the_summary_task_makes_three_queries_each_served_by_an_index(make_monitor):
    """Cheap at 10,000 monitors: with sequential scans forbidden, PostgreSQL still plans every
    query of the summary (a query no index serves would keep its Seq Scan)."""
    make_monitor(now=timezone.now())
    with CaptureQueriesContext(connection) as queries:
        assert tasks.log_summary(window_seconds=60) == 0

    assert len(queries) == 3
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        for query in queries.captured_queries:
            cursor.execute(f"EXPLAIN {query['sql']}")
            plan = "\n".join(row[0] for row in cursor.fetchall())
            assert "Seq Scan" not in plan, (query["sql"], plan)
