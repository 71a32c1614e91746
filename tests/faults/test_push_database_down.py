"""PostgreSQL down while jobs ping: gunicorn (as docs/deployment.md runs it) answers every ping
503 with Retry-After, never a 500 and never a hang, keeps serving through the outage, and once
the database is back the next ping is recorded and the monitor is OK. A ping answered 503 was
not recorded (the job retries it): nothing half-stored."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request

import psycopg
import pytest

from bench.db import process_environment
from bench.faults import prepare_database
from bench.private_servers import PrivatePostgres
from tests.alerts.test_end_to_end import ROOT
from tests.loop.test_push_end_to_end import free_port
from tests.test_end_to_end import wait_for

pytestmark = pytest.mark.e2e
OUTAGE_PINGS = 8


def ping(url: str) -> tuple[int, dict[str, str]]:
    """(status, headers) of one ping; a hang fails the test (the timeout is generous)."""
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:
            return answer.status, dict(answer.headers)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers)


def query(database_url: str, sql: str, *args) -> list[tuple]:
    with psycopg.connect(database_url, connect_timeout=5) as connection:
        return connection.execute(sql, args).fetchall()


def test_pings_while_the_database_is_down_get_503_then_are_recorded_again(private_redis, tmp_path):
    with PrivatePostgres() as postgres:
        database_url = postgres.create_database("nanomon")
        environment = process_environment(
            database_url=database_url, broker_url=private_redis.url, data_dir=tmp_path / "data"
        )
        [monitor_id] = prepare_database(
            environment,
            [{"name": "nightly", "kind": "push", "target": "backup job", "interval": "1h",
              "enabled": True}],
        )  # fmt: skip
        [(token,)] = query(
            database_url, "SELECT push_token FROM monitors_monitor WHERE id = %s", monitor_id
        )
        port = free_port()
        log = tmp_path / "gunicorn.log"
        with log.open("w") as output:
            server = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "nanomon.wsgi", "--bind", f"127.0.0.1:{port}",
                 "--workers", "1", "--threads", "4"],
                cwd=ROOT, env=environment, stdout=output, stderr=subprocess.STDOUT,
            )  # fmt: skip
        url = f"http://127.0.0.1:{port}/ping/{token}"
        try:
            wait_for(lambda: _answers(url), what="gunicorn")
            assert ping(url)[0] == 200

            postgres.stop()
            during = []
            for _ in range(OUTAGE_PINGS):
                during.append(ping(url))
                time.sleep(0.5)
            # The web server is still up and says so without the database.
            assert ping(f"http://127.0.0.1:{port}/ping/{token}/fail")[0] == 503
            postgres.start()

            statuses = [status for status, _ in during]
            assert statuses == [503] * OUTAGE_PINGS, statuses
            assert all(int(headers["Retry-After"]) >= 1 for _, headers in during)
            wait_for(lambda: ping(url)[0] == 200, timeout=60, what="a ping recorded again")
        finally:
            server.terminate()
            server.wait(timeout=20)

        rows = query(
            database_url,
            "SELECT status FROM results_result WHERE monitor_id = %s ORDER BY date",
            monitor_id,
        )
        # The ping before and the one after the outage (wait_for may have sent a few 200s);
        # nothing of the 503s was stored, and no Failed run came from them.
        assert len(rows) >= 2
        assert {status for (status,) in rows} == {0}
        [(last_status,)] = query(
            database_url,
            "SELECT last_status FROM results_monitorstate WHERE monitor_id = %s",
            monitor_id,
        )
        assert last_status == 0
        assert "Traceback" not in log.read_text()


def _answers(url: str) -> bool:
    try:
        return ping(url)[0] in (200, 503)
    except OSError:
        return False
