"""Test settings: the real PostgreSQL and Redis on this machine, unless ``DATABASE_URL`` and
``CELERY_BROKER_URL`` say otherwise. Everything else is the production settings module, read
from the environment."""

import os
import tempfile

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/nanomon")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("NANOMON_DATA_DIR", tempfile.mkdtemp(prefix="nanomon-tests-"))

from nanomon.settings import *  # noqa: F403  (Django's settings-override idiom)
from tests.support import isolation

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Pages render static URLs without a collectstatic run.
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Concurrent runs (several engineers, CI) on one server never touch each other's data: a test
# database per run, named after DATABASE_URL's database (tests/support/isolation.py) …
DATABASES["default"]["TEST"] = {  # noqa: F405
    "NAME": isolation.isolated_database_name(DATABASES["default"]["NAME"], os.getpid())  # noqa: F405
}
# … and every broker key of the run under a prefix of its own, deleted when the run ends
# (tests/conftest.py): the dispatch requests and deliveries the tests queue with nobody to
# consume them, and each end-to-end test's processes (one level below).
NANOMON_TEST_KEY_PREFIX = isolation.run_key_prefix(
    os.environ.get("NANOMON_BROKER_KEY_PREFIX", ""), os.getpid()
)
if isolation.is_redis(CELERY_BROKER_URL):  # noqa: F405
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        **CELERY_BROKER_TRANSPORT_OPTIONS,  # noqa: F405
        "global_keyprefix": NANOMON_TEST_KEY_PREFIX,
    }
