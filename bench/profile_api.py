"""Where the time of ``GET /api/monitors`` goes, on the read-path database.

    .venv/bin/python -m bench.profile_api            # after bench.read_path has seeded it

Times (best of ``--repeat``) each stage of listing every monitor in-process, without HTTP:
the view as it is (Django test client); the JSON it sends, written by PostgreSQL
(``monitors_json``), for a reader who sees secrets and one who does not; the path it takes on
other databases and for the browsable API (``monitors_data`` rows to dicts, then DRF's JSON
renderer); the path it took before (model instances, then ``MonitorSerializer``); and
PostgreSQL's ``json_agg`` for scale.
Prints a table and writes the figures as JSON, like the other benchmarks.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from bench import db
from bench.common import OUT_DIR, print_table, run_metadata, write_json


def best_ms(function: Callable[[], object], repeat: int) -> tuple[float, object]:
    best, value = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        value = function()
        best = min(best, time.perf_counter() - started)
    return round(best * 1000, 1), value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_api", description=__doc__)
    parser.add_argument("--database", default="nanomon_bench_read")
    parser.add_argument("--server-url", default=db.DEFAULT_SERVER_URL)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out-dir", default=None)
    arguments = parser.parse_args(argv)
    meta = run_metadata()  # the date and load average at the start, as in the other scripts
    if not db.database_exists(arguments.server_url, arguments.database):
        parser.error(f"no database {arguments.database}: run bench.read_path first")
    environment = db.process_environment(
        database_url=db.database_url(arguments.server_url, arguments.database),
        broker_url="redis://127.0.0.1:6379/13",
        data_dir=OUT_DIR / "read-work" / arguments.database / "data",
    )
    db.setup_django(environment)
    from django.db import connection
    from django.test import Client
    from rest_framework.authtoken.models import Token
    from rest_framework.renderers import JSONRenderer

    from monitors.api.listing import monitors_data, monitors_json
    from monitors.api.serializers import MonitorSerializer
    from monitors.selectors import monitors_list

    token = Token.objects.select_related("user").first()
    if token is None:
        parser.error("no API token: run bench.read_path first")
    client = Client()
    headers = {"HTTP_AUTHORIZATION": f"Token {token.key}", "HTTP_HOST": "localhost"}
    stages: dict[str, float] = {}
    stages["view, whole (test client, no HTTP)"], response = best_ms(
        lambda: client.get("/api/monitors", **headers), arguments.repeat
    )
    if response.status_code != 200:
        parser.error(f"GET /api/monitors answered {response.status_code}")
    stages["now: monitors_json (PostgreSQL writes each row)"], _ = best_ms(
        lambda: monitors_json(monitors_list(), reveal_secrets=True), arguments.repeat
    )
    stages["now: monitors_json, secrets masked"], _ = best_ms(
        lambda: monitors_json(monitors_list(), reveal_secrets=False), arguments.repeat
    )
    stages["other databases: monitors_data, rows to dicts"], data = best_ms(
        lambda: monitors_data(monitors_list(), reveal_secrets=True), arguments.repeat
    )
    stages["other databases: DRF JSONRenderer of those"], body = best_ms(
        lambda: JSONRenderer().render(data), arguments.repeat
    )
    instances_ms, instances = best_ms(lambda: list(monitors_list()), arguments.repeat)
    stages["before: ORM model instances with their state"] = instances_ms
    stages["before: MonitorSerializer of those instances"], _ = best_ms(
        lambda: MonitorSerializer(instances, many=True, context={"reveal_secrets": True}).data,
        arguments.repeat,
    )
    aggregate = (
        "SELECT json_agg(x)::text FROM (SELECT m.id, m.name, m.kind AS type, m.interval, "
        "m.target, m.rule, m.enabled, m.properties, m.updated_at AS updated, m.created_at AS "
        'created, s.last_status AS status, s.last_run_at AS "lastRun" '
        "FROM monitors_monitor m LEFT JOIN results_monitorstate s ON s.monitor_id = m.id "
        "ORDER BY m.name, m.id) x"
    )

    def json_agg() -> str:
        with connection.cursor() as cursor:
            cursor.execute(aggregate)
            return cursor.fetchone()[0]

    stages["PostgreSQL json_agg (JSON built by the server)"], _ = best_ms(
        json_agg, arguments.repeat
    )
    count = len(instances)
    table = print_table(
        f"GET /api/monitors, {count} monitors, {len(response.content)} bytes "
        f"(best of {arguments.repeat}, in-process)",
        ["stage", "ms"],
        [[stage, milliseconds] for stage, milliseconds in stages.items()],
    )
    write_json(
        "profile_api",
        {
            "benchmark": "profile_api",
            **meta,
            "monitors": count,
            "response_bytes": len(response.content),
            "json_bytes": len(body),
            "stages_ms": stages,
            "table": table,
        },
        out_dir=Path(arguments.out_dir) if arguments.out_dir else None,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
