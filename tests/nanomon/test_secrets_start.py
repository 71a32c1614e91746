"""The embedded shape with stored secrets no key opens (docs/security.md): ``migrate`` fails
with nanomon.E001 naming the rows, and ``bin/nanomon run``'s preparation stops once with the
same message before any child starts (no restart loop); with the right key both go on."""

from __future__ import annotations

import subprocess
import sys

from cryptography.fernet import Fernet

from tests.support.sqlite import ROOT, manage, sqlite_environment

SEED = """
from alerts.configuration import channel_create
channel_create(name="hook", kind="webhook", config={"url": "https://hooks.example/t0ken"})
"""


def prepare(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "from nanomon.embedded import prepare; prepare()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_a_key_that_opens_nothing_stops_the_start_once_with_a_clear_message(tmp_path):
    sealing, other = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    env = sqlite_environment(tmp_path, NANOMON_SECRETS_KEY=sealing)
    assert manage(env, "migrate", "-v", "0").returncode == 0
    assert manage(env, "shell", "-c", SEED).returncode == 0
    wrong = {**env, "NANOMON_SECRETS_KEY": other}

    migrated = manage(wrong, "migrate", "-v", "0")
    started = prepare(wrong)

    assert migrated.returncode == 1
    assert "nanomon.E001" in migrated.stderr
    assert "stored secrets cannot be decrypted with any key of NANOMON_SECRETS_KEY: " in (
        migrated.stderr
    )
    assert started.returncode == 2
    assert (
        started.stderr.strip()
        .splitlines()[-1]
        .startswith(
            "NanoMon cannot start: stored secrets cannot be decrypted with any key of "
            "NANOMON_SECRETS_KEY: 1 alert channel(s) (ids "
        )
    )
    assert "Traceback" not in started.stderr
    assert "t0ken" not in migrated.stderr + started.stderr
    right = {**env, "NANOMON_SECRETS_KEY": f"{other},{sealing}"}
    assert manage(right, "migrate", "-v", "0").returncode == 0
