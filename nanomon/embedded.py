"""The embedded shape: one command runs web + worker + beat, with no PostgreSQL or Redis.

``python -m nanomon.embedded`` (what ``bin/nanomon run`` starts) migrates the database,
creates an admin user the first time (printing a generated password unless
``DJANGO_SUPERUSER_PASSWORD`` is set), then supervises three children: gunicorn on
``127.0.0.1:$PORT``, a Celery worker and Celery beat (``nanomon.supervisor``). A child that
dies is started again with back-off, and the dashboard and ``/api/status`` say so; only
Ctrl-C (or SIGTERM) stops them all. Running it again reuses the data folder
(``NANOMON_DATA_DIR``).
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

from nanomon.env import data_dir, env_int, env_str
from nanomon.supervisor import Supervisor


def prepare() -> None:
    """Migrate, collect static files, and make sure an admin exists (once)."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nanomon.settings")
    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    # Stored secrets no key opens stop NanoMon here, once, before any child starts (never a
    # restart loop): docs/security.md.
    from alerts.secrets_store import stored_secrets_problem

    if (problem := stored_secrets_problem()) is not None:
        print(f"NanoMon cannot start: {problem}", file=sys.stderr)
        raise SystemExit(2)
    # Hashed static file names (cache busting) need the manifest collectstatic writes.
    call_command("collectstatic", interactive=False, verbosity=0)
    users = get_user_model()
    if users.objects.filter(is_superuser=True).exists():
        return
    username = env_str("DJANGO_SUPERUSER_USERNAME") or "admin"
    configured_password = env_str("DJANGO_SUPERUSER_PASSWORD")
    password = configured_password or secrets.token_urlsafe(12)
    email = env_str("DJANGO_SUPERUSER_EMAIL")
    users.objects.create_superuser(username=username, email=email, password=password)
    # Set but empty (a copied .env.example) means "generate one": it must then be shown.
    if configured_password:
        print(f"Created admin user {username!r} with the password from DJANGO_SUPERUSER_PASSWORD.")
    else:
        print(f"Created admin user {username!r} with password: {password}")
        print("Keep it: it is shown only once (change it in /admin).")


def child_commands(port: int, bind: str) -> dict[str, list[str]]:
    """The three children. Their sizes default smaller than a server's (docs/configuration.md:
    4 worker threads here, 8 elsewhere) and are checked like every setting (``nanomon.env``)."""
    python = sys.executable
    web_workers = str(env_int("WEB_CONCURRENCY", 2, minimum=1))
    concurrency = str(env_int("NANOMON_WORKER_CONCURRENCY", 4, minimum=1))
    return {
        "web": [
            python, "-m", "gunicorn", "nanomon.wsgi",
            "--bind", f"{bind}:{port}",
            "--workers", web_workers,
            "--access-logfile", "-",
        ],
        "worker": [
            python, "-m", "celery", "-A", "nanomon", "worker",
            "--concurrency", concurrency,
            "--loglevel", "INFO", "--without-gossip", "--without-mingle",
        ],
        "beat": [python, "-m", "celery", "-A", "nanomon", "beat", "--loglevel", "INFO"],
    }  # fmt: skip


def main() -> int:
    port = env_int("PORT", 8000, minimum=1, maximum=65535)
    bind = env_str("NANOMON_BIND", "127.0.0.1")
    commands = child_commands(port, bind)  # bad sizes stop it here, before any migration
    root = Path(__file__).resolve().parent.parent
    # In a child process: the supervisor, which runs for weeks, never loads Django (its RSS
    # stays a few MB instead of Django's ~150 MB).
    prepared = subprocess.run(
        [sys.executable, "-c", "from nanomon.embedded import prepare; prepare()"],
        cwd=root,
        check=False,
    )
    if prepared.returncode != 0:
        return prepared.returncode
    print(f"NanoMon is starting at http://{bind}:{port}/  (Ctrl-C stops it)", flush=True)
    return Supervisor(commands, cwd=root, state_dir=data_dir()).run()


if __name__ == "__main__":
    sys.exit(main())
