"""The shape docs/architecture.md describes, kept: small modules in the apps, and the layering
contracts of .importlinter (bin/nanomon test runs lint-imports; this checks the contracts are
there and name every app, so a new app cannot slip past them)."""

from __future__ import annotations

import configparser
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)
APPS = ("accounts", "alerts", "backups", "lib", "loop", "metrics", "monitors", "results", "web")
MAX_MODULE_LINES = 450


def test_no_module_in_the_apps_is_over_450_lines():
    long = {
        str(path.relative_to(ROOT)): length
        for app in APPS
        for path in (ROOT / app).rglob("*.py")
        if "migrations" not in path.parts
        and (length := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }

    assert long == {}, "split these modules by job"


def test_the_layering_contract_names_every_app_in_order():
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    layers = [
        line.strip()
        for line in config["importlinter:contract:apps"]["layers"].splitlines()
        if line.strip()
    ]

    assert layers[1:-2] == [
        "web",
        "loop | backups",
        "metrics",
        "alerts",
        "results",
        "monitors",
        "accounts",
    ]
    assert layers[-1] == "lib"
    roots = set(config["importlinter"]["root_packages"].split())
    assert roots == {*APPS, "nanomon"}
