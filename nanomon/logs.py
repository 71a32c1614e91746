"""Quiet logs: what the ``LOGGING`` setting filters out, and how Celery processes apply it.

The dispatcher ticks once a second. Celery writes three INFO lines per tick (beat's "Sending
due task", the worker's "received" and "succeeded") plus two per probe batch: about 85 MB a
day of lines that say nothing. ``RoutineTaskFilter`` drops those INFO lines for the routine
tasks below; a periodic one-line summary (``metrics.tasks.log_summary``) says instead what
the loop did. Everything else passes: other tasks' lines, every WARNING and ERROR (a routine
task that raises is still logged at ERROR with its traceback), and at DEBUG every line.
"""

from __future__ import annotations

import logging

# Tasks that run on a schedule whatever happens: their runs are counted by the summary.
ROUTINE_TASKS = frozenset(
    {
        "monitors.tasks.dispatch_due_monitors",
        "monitors.tasks.run_probe_batch",
        "alerts.tasks.sweep_alerts",
        "metrics.tasks.log_summary",
    }
)

# Celery's INFO messages that name a task in their arguments instead of in ``record.data``:
# message → index of the task name in ``record.args``.
_TASK_NAME_ARGUMENT = {
    "Scheduler: Sending due task %s (%s)": 1,  # celery.beat: (entry name, task name)
    "Discarding revoked task: %s[%s]": 0,  # celery.worker.request: a stale (expired) tick
}


def task_name_of(record: logging.LogRecord) -> str | None:
    """The task a Celery log record is about, if it names one."""
    data = getattr(record, "data", None)  # the worker's received / succeeded / failed lines
    if isinstance(data, dict):
        name = data.get("name")
        return name if isinstance(name, str) else None
    index = _TASK_NAME_ARGUMENT.get(record.msg) if isinstance(record.msg, str) else None
    if index is not None and isinstance(record.args, tuple) and len(record.args) > index:
        return str(record.args[index])
    return None


class RoutineTaskFilter(logging.Filter):
    """Drops the INFO lines Celery writes for every run of a routine task.

    Only records at exactly INFO are looked at; none is dropped when the root logger is at
    DEBUG (``NANOMON_LOG_LEVEL=DEBUG`` shows every tick again).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO:
            return True
        if logging.getLogger().isEnabledFor(logging.DEBUG):
            return True
        return task_name_of(record) not in ROUTINE_TASKS


def configure_celery_logging(**kwargs: object) -> None:
    """Celery's ``setup_logging`` receiver: worker and beat log as the web processes do.

    Without a receiver Celery keeps Django's handlers (``CELERY_WORKER_HIJACK_ROOT_LOGGER``
    is off) but sets the root level to its ``--loglevel`` (WARNING when not given), over
    ``NANOMON_LOG_LEVEL``. With it, Django's ``LOGGING`` (level, format, filters) is the whole
    configuration of every process, and ``--loglevel`` changes nothing.
    """
    from django.conf import settings
    from django.utils.log import configure_logging

    configure_logging(settings.LOGGING_CONFIG, settings.LOGGING)
