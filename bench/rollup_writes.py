"""The rollups' cost on the write path, in isolation: ``batch_record`` with and without
``rollups_add`` (and the maintenance lookup that feeds it), interleaved, in CPU seconds of this
process and of its PostgreSQL backend.

    .venv/bin/python -m bench.rollup_writes --monitors 1000 --group 50 --rounds 40

In a database of its own (``--database``, dropped at the end): ``--monitors`` monitors; each
round records every monitor once, in groups of ``--group`` (the size the loop's record groups
have at 10,000 monitors every 60 s: a few dozen), once with rollups and once without (the order
alternates), each group under its own claim as the loop does. CPU time (user + system, from
/proc) rather than wall time, so other users of the machine disturb it less; results per
CPU-second printed for both and written as JSON to ``bench/out/``. ``bench.scale`` measures the
whole loop; this isolates the step.
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench import db
from bench.common import OUT_DIR, cpu_seconds, print_table, run_metadata, write_json


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--monitors", type=int, default=1000)
    parser.add_argument("--group", type=int, default=50, help="runs per batch_record")
    parser.add_argument("--rounds", type=int, default=40, help="rounds per mode")
    parser.add_argument("--database", default="nanomon_bench_rollup_writes")
    parser.add_argument("--server-url", default=db.DEFAULT_SERVER_URL)
    parser.add_argument("--out-dir", default=None)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    meta = run_metadata()
    out_dir = Path(arguments.out_dir) if arguments.out_dir else OUT_DIR
    environment = db.process_environment(
        database_url=db.database_url(arguments.server_url, arguments.database),
        broker_url="redis://127.0.0.1:6379/13",
        data_dir=out_dir / "rollup-writes-work",
    )
    db.setup_django(environment)
    from django.db import connection, connections

    import loop.batches
    from alerts.maintenance import runs_in_maintenance
    from monitors.engine import CheckResult, CheckStatus
    from monitors.models import Monitor
    from results.rollups import rollups_add
    from results.services import RunRecord

    db.create_database(arguments.server_url, arguments.database)
    totals = {"with rollups": [0.0, 0.0, 0], "without": [0.0, 0.0, 0]}
    try:
        db.migrate(environment)
        Monitor.objects.bulk_create(
            Monitor(name=f"w{i}", kind="http", target=f"http://127.0.0.1:9/{i}", interval="1m",
                    interval_duration=timedelta(minutes=1), enabled=True, properties={},
                    next_run_at=None)
            for i in range(arguments.monitors)
        )  # fmt: skip
        monitors = list(Monitor.objects.order_by("pk"))
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            backend = cursor.fetchone()[0]
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)

        def one_round(number: int, with_rollups: bool) -> None:
            # Without: neither the rollup upsert nor the maintenance lookup it needs.
            loop.batches.rollups_add = rollups_add if with_rollups else (lambda *args: None)
            loop.batches.runs_in_maintenance = (
                runs_in_maintenance if with_rollups else (lambda runs: [False] * len(runs))
            )
            at = start + timedelta(minutes=number)
            name = "with rollups" if with_rollups else "without"
            for first in range(0, len(monitors), arguments.group):
                group = monitors[first : first + arguments.group]
                token = uuid.uuid4()
                Monitor.objects.filter(pk__in=[m.pk for m in group]).update(run_token=token)
                runs = [
                    RunRecord(m.pk, m.name, m.target, at, CheckResult(
                        status=CheckStatus.OK if (m.pk + number) % 20 else CheckStatus.ERROR,
                        value=20.0 + (m.pk * 7 + number) % 30, message="", outputs=None,
                        started_at=at + timedelta(seconds=m.pk % 60), duration_seconds=0.02))
                    for m in group
                ]  # fmt: skip
                own, server = time.process_time(), cpu_seconds(backend)
                loop.batches.batch_record(token=token, runs=runs)
                totals[name][0] += time.process_time() - own
                totals[name][1] += cpu_seconds(backend) - server
                totals[name][2] += len(runs)

        for number in range(arguments.rounds * 2):
            one_round(number, with_rollups=(number // 1) % 2 == (number // 2) % 2)
    finally:
        loop.batches.rollups_add = rollups_add
        loop.batches.runs_in_maintenance = runs_in_maintenance
        connections.close_all()
        db.drop_database(arguments.server_url, arguments.database)

    rows, figures = [], {}
    for name, (own, server, results) in totals.items():
        figures[name] = {
            "results": results,
            "process_cpu_seconds": round(own, 2),
            "postgres_backend_cpu_seconds": round(server, 2),
            "results_per_cpu_second": round(results / (own + server)),
        }
        rows.append(
            [name, results, round(own, 2), round(server, 2), round(results / (own + server))]
        )
    print_table(
        f"batch_record, {arguments.monitors} monitors in groups of {arguments.group}, "
        f"{arguments.rounds} rounds per mode (CPU seconds; pid {os.getpid()})",
        ["mode", "results", "python CPU s", "postgres CPU s", "results per CPU-s"],
        rows,
    )
    write_json("rollup_writes", {**meta, "arguments": vars(arguments), "modes": figures},
               out_dir=Path(arguments.out_dir) if arguments.out_dir else None)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
