"""Fault tests: real worker and beat processes against a private Redis or PostgreSQL that the
test stops and starts (bench/private_servers.py), with monitors against a local HTTP server.

The lease grace is 5 s here (30 s in production): a batch the broker lost, or whose claims
could not be released while the database was down, holds its monitors for that long, and
the tests wait for every monitor to run again. ``bench.faults`` measures the production
figures.
"""

from __future__ import annotations

import pytest

from bench.faults import Fleet, fleet_commands
from bench.private_servers import RestartableRedis
from tests.support.http_servers import build_test_app, serve_app

LEASE_GRACE = "5s"


@pytest.fixture
def private_redis():
    with RestartableRedis() as redis:
        yield redis


@pytest.fixture
def ok_url():
    """A URL that always answers 200 (the monitors' target: any failure is a false one)."""
    with serve_app(build_test_app()) as server:
        yield server.url("/ok")


@pytest.fixture
def start_fleet(tmp_path):
    """Start beat and ``workers`` workers on an environment; stops them at the end."""
    fleets: list[Fleet] = []

    def start(environment: dict[str, str], workers: int = 2) -> Fleet:
        environment = {**environment, "NANOMON_LEASE_GRACE": LEASE_GRACE}
        fleet = Fleet(environment, tmp_path / "logs", fleet_commands(workers, 2)).start()
        fleets.append(fleet)
        return fleet

    yield start
    for fleet in fleets:
        fleet.stop()
