"""The Celery app: configured from Django settings (``CELERY_*``), tasks from each app."""

from __future__ import annotations

import functools
import os

from celery import Celery
from celery.signals import setup_logging, task_prerun
from kombu import Queue

import nanomon.broker  # noqa: F401  (registers the embedded broker's sqlite:// URL)
from nanomon.logs import configure_celery_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nanomon.settings")


def _redis_channel_fails_as_a_connection_error() -> None:
    """A Redis restart must not kill a worker: make a closed Redis channel fail with a
    connection error, which Celery recovers from, instead of an AttributeError, which it
    does not (the worker logs ``Unrecoverable error: AttributeError("'NoneType' object has
    no attribute 'hostname'")`` and exits).

    How it happens (kombu 5.7, Celery 5.7): Redis goes away while the worker's task channel
    has a BRPOP in flight and holds delivered, unacknowledged messages (the dispatcher's
    batches wait for their ETA in the worker; tasks are acknowledged when they start). The
    consumer's ``connection.collect()`` closes the channels: the task channel's close fails
    on its BRPOP, and the remote-control channel's close (deleting its fan-out binding) fails
    too, which ends ``Transport.close_connection``'s loop before the task channel is closed.
    ``collect()`` then sets ``transport.client = None``. Celery next calls
    ``ignore_errors(connection, connection.close)``, which closes the still-open task channel
    again: restoring its unacknowledged messages needs a new Redis pool, and
    ``Channel._connparams`` reads ``self.connection.client.hostname`` of None. That
    AttributeError is not a connection error, so it escapes ``ignore_errors`` and the
    consumer. The same failure, reached through the gossip step's channel, is
    celery/kombu#582; kombu#970 is the restore of unacknowledged messages on a closed
    connection. Raising ``redis.exceptions.ConnectionError`` there instead makes the close
    an ordinary connection failure: the consumer reconnects, and the messages that could not
    be restored stay in Redis's unacknowledged set (the claims they carried expire after
    NANOMON_LEASE_GRACE and are claimed again). Reproduced and checked by
    tests/faults/test_broker.py.
    """
    try:
        from kombu.transport import redis as redis_transport
        from redis.exceptions import ConnectionError as RedisConnectionError
    except ImportError:  # no redis-py: no Redis broker either
        return
    original = redis_transport.Channel._connparams
    if getattr(original, "nanomon_guarded", False):
        return

    @functools.wraps(original)
    def _connparams(self, asynchronous=False):
        transport = self.connection
        if transport is None or transport.client is None:
            raise RedisConnectionError("the broker connection of this channel is closed")
        return original(self, asynchronous=asynchronous)

    _connparams.nanomon_guarded = True
    redis_transport.Channel._connparams = _connparams


_redis_channel_fails_as_a_connection_error()

app = Celery("nanomon")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Declared here so a plain `celery -A nanomon worker` consumes every queue; a fleet can still
# split them with `-Q probes` / `-Q celery` / `-Q alerts` / `-Q tests` ("Test now").
app.conf.task_queues = (
    Queue("celery", routing_key="celery"),
    Queue("probes", routing_key="probes"),
    Queue("alerts", routing_key="alerts"),
    Queue("tests", routing_key="tests"),
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
