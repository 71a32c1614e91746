"""Test settings: the real PostgreSQL and Redis on this machine, unless the environment says
otherwise. Everything else is the production settings module, read from the environment."""

import os
import tempfile

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/nanomon")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("NANOMON_DATA_DIR", tempfile.mkdtemp(prefix="nanomon-tests-"))

from nanomon.settings import *  # noqa: F403  (Django's settings-override idiom)

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Pages render static URLs without a collectstatic run.
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# One test database per run, so concurrent runs (several engineers, CI) never drop each
# other's database.
DATABASES["default"]["TEST"] = {"NAME": f"test_nanomon_{os.getpid()}"}  # noqa: F405
