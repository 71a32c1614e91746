"""The Celery app: configured from Django settings (``CELERY_*``), tasks from each app."""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import setup_logging, task_prerun
from kombu import Queue

from nanomon.logs import configure_celery_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nanomon.settings")

app = Celery("nanomon")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Declared here so a plain `celery -A nanomon worker` consumes every queue; a fleet can still
# split them with `-Q probes` / `-Q celery` / `-Q alerts`.
app.conf.task_queues = (
    Queue("celery", routing_key="celery"),
    Queue("probes", routing_key="probes"),
    Queue("alerts", routing_key="alerts"),
)
app.autodiscover_tasks()
# Worker and beat log at NANOMON_LOG_LEVEL through the LOGGING setting (nanomon.logs): quiet
# ticks, and Celery's --loglevel no longer overrides the level.
setup_logging.connect(configure_celery_logging)


@task_prerun.connect
def _drop_stale_connections(task=None, **kwargs: object) -> None:
    """Before a task, close a database connection that broke or outlived CONN_MAX_AGE, as
    Django does before each request (workers keep theirs between tasks: CELERY_DB_REUSE_MAX).

    Not for a task run eagerly inside the caller's process: that connection is the caller's,
    possibly inside its transaction.
    """
    if task is not None and task.request.is_eager:
        return
    from django.db import close_old_connections

    close_old_connections()
