"""PostgreSQL down for a while: worker and beat survive it and the loop resumes by itself;
runs that could not be recorded are never results, and never alerts about their target."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from bench.db import process_environment
from bench.faults import analyse, http_monitors, prepare_database
from bench.private_servers import PrivatePostgres
from tests.test_end_to_end import wait_for

pytestmark = pytest.mark.e2e
OUTAGE_SECONDS = 20


def results_per_monitor(database_url: str, since: datetime) -> dict[int, int]:
    try:
        with psycopg.connect(database_url, connect_timeout=5) as connection:
            rows = connection.execute(
                "SELECT monitor_id, count(*) FROM results_result WHERE date >= %s GROUP BY 1",
                [since],
            ).fetchall()
    except psycopg.OperationalError:
        return {}
    return dict(rows)


def test_worker_and_beat_survive_a_database_outage(private_redis, ok_url, start_fleet, tmp_path):
    with PrivatePostgres() as postgres:
        database_url = postgres.create_database("nanomon")
        environment = process_environment(
            database_url=database_url, broker_url=private_redis.url, data_dir=tmp_path / "data"
        )
        ids = prepare_database(environment, http_monitors(4, "1s", [ok_url], name="db fault"))
        fleet = start_fleet(environment)
        start = datetime.now(UTC)

        def every_monitor_ran(since: datetime, times: int = 1) -> bool:
            counts = results_per_monitor(database_url, since)
            return all(counts.get(monitor_id, 0) >= times for monitor_id in ids)

        wait_for(lambda: every_monitor_ran(start, 2), timeout=60, what="2 results of every one")

        fault_start = datetime.now(UTC)
        postgres.stop()
        fleet.sleep(OUTAGE_SECONDS)
        postgres.start()
        fault_end = datetime.now(UTC)
        wait_for(
            lambda: fleet.check() or fleet.deaths or every_monitor_ran(fault_end),
            timeout=45,
            what="every monitor to run again",
        )
        assert fleet.deaths == [], fleet.deaths
        fleet.sleep(2)
        figures = analyse(
            database_url, healthy=ids, interval=1.0, start=start, end=datetime.now(UTC),
            fault_start=fault_start, fault_end=fault_end,
        )  # fmt: skip
        fleet.stop()
    print(f"database down {figures['fault_seconds']}s: {figures}")

    assert fleet.deaths == [], fleet.deaths
    assert figures["not_resumed"] == []
    assert figures["duplicate_results"] == 0, figures["duplicates_sample"]
    # Nothing was recorded while the database was down, and no failure came of it.
    assert (figures["false_alerts"], figures["healthy_non_ok_results"]) == (0, 0), figures
