"""The embedded shape's database in a test: ``manage.py`` in a subprocess on a SQLite file of its
own (the test run's own database is PostgreSQL)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def sqlite_environment(folder: Path, **extra: str) -> dict[str, str]:
    """This process's environment for a child on ``folder/nanomon.sqlite3``, without the test
    run's database and broker URLs; ``extra`` adds or overrides variables."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_URL", "CELERY_BROKER_URL"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="nanomon.settings",
        DATABASE_URL=f"sqlite:///{folder}/nanomon.sqlite3",
        NANOMON_DATA_DIR=str(folder),
        **extra,
    )
    return env


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """``manage.py args…`` in the repository with ``env``; output captured, never raises."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
