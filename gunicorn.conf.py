"""gunicorn's settings for NanoMon, from the environment like every other setting.

gunicorn reads ``gunicorn.conf.py`` from its working directory: the checkout (docs/deployment.md's
commands, ``bin/nanomon run``) and ``/app`` in the image. Options on gunicorn's command line
(``--workers 3``) override these; keep the timeout and threads here, where the settings read
them too (``NANOMON_TEST_TIMEOUT`` is checked against ``NANOMON_WEB_TIMEOUT``).

Threads (``gthread``): a request that waits, e.g. a "Test now" waiting for a worker's result,
holds one thread, not a whole process, and each process keeps two threads for pages and
``/api/health`` whatever the tests waiting in it (``monitors/oneoff.py``).
"""

from nanomon.env import env_int, env_seconds

worker_class = "gthread"
threads = env_int("NANOMON_WEB_THREADS", 8, minimum=3, maximum=256)
timeout = round(env_seconds("NANOMON_WEB_TIMEOUT", "30s"))
