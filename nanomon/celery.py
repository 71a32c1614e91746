"""The Celery app: configured from Django settings (``CELERY_*``), tasks from each app."""

from __future__ import annotations

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nanomon.settings")

app = Celery("nanomon")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Declared here so a plain `celery -A nanomon worker` consumes every queue; a fleet can still
# split them with `-Q probes` / `-Q celery`.
app.conf.task_queues = (
    Queue("celery", routing_key="celery"),
    Queue("probes", routing_key="probes"),
)
app.autodiscover_tasks()
