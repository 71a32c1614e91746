"""The ALERT_* variables: documented defaults, and bad values stop the process naming them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NAMES = [
    "ALERT_SMTP_HOST", "ALERT_SMTP_PORT", "ALERT_SMTP_SECURITY", "ALERT_SMTP_FROM",
    "ALERT_SMTP_USERNAME", "ALERT_SMTP_TO", "ALERT_SMTP_VERIFY_TLS", "ALERT_FAIL_COUNT",
    "ALERT_RECOVER_COUNT", "ALERT_REMINDER_MINUTES", "ALERT_LINK_BASEURL",
    "ALERT_DELIVERY_TIMEOUT", "ALERT_DELIVERY_ATTEMPTS", "ALERT_RETRY_BASE_SECONDS",
    "ALERT_SWEEP_INTERVAL_SECONDS",
]  # fmt: skip
SHOW = (
    f"import json, nanomon.settings as s; print(json.dumps({{n: getattr(s, n) for n in {NAMES}}}))"
)


def load_settings(env: dict[str, str], tmp_path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", SHOW],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "NANOMON_DATA_DIR": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_unset_alert_variables_take_the_documented_defaults(tmp_path):
    loaded = load_settings({"ALERT_SMTP_FROM": "NanoMon <alerts@example.org>"}, tmp_path)

    assert json.loads(loaded.stdout) == {
        "ALERT_SMTP_HOST": "smtp.gmail.com",
        "ALERT_SMTP_PORT": 587,
        "ALERT_SMTP_SECURITY": "starttls",
        "ALERT_SMTP_FROM": "NanoMon <alerts@example.org>",
        "ALERT_SMTP_USERNAME": "alerts@example.org",
        "ALERT_SMTP_TO": [],
        "ALERT_SMTP_VERIFY_TLS": True,
        "ALERT_FAIL_COUNT": 3,
        "ALERT_RECOVER_COUNT": 1,
        "ALERT_REMINDER_MINUTES": 0,
        "ALERT_LINK_BASEURL": "http://localhost:8000",
        "ALERT_DELIVERY_TIMEOUT": 10.0,
        "ALERT_DELIVERY_ATTEMPTS": 10,
        "ALERT_RETRY_BASE_SECONDS": 30.0,
        "ALERT_SWEEP_INTERVAL_SECONDS": 30.0,
    }


def test_port_465_means_implicit_tls_and_recipients_are_a_list(tmp_path):
    loaded = load_settings(
        {"ALERT_SMTP_PORT": "465", "ALERT_SMTP_TO": "a@example.org, b@example.org"}, tmp_path
    )

    values = json.loads(loaded.stdout)
    assert values["ALERT_SMTP_SECURITY"] == "tls"
    assert values["ALERT_SMTP_TO"] == ["a@example.org", "b@example.org"]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ALERT_SMTP_SECURITY": "ssl"}, "ALERT_SMTP_SECURITY must be starttls, tls or none"),
        ({"ALERT_FAIL_COUNT": "0"}, "ALERT_FAIL_COUNT must be at least 1"),
        ({"ALERT_SMTP_TO": "ops"}, "ALERT_SMTP_TO must be comma-separated email addresses"),
        ({"ALERT_RETRY_BASE": "soon"}, "ALERT_RETRY_BASE must be a duration"),
    ],
)
def test_a_bad_alert_variable_stops_the_process_naming_it(tmp_path, env, message):
    loaded = load_settings(env, tmp_path)

    assert loaded.returncode != 0
    assert message in loaded.stderr
