"""The embedded broker against kombu's file-system transport, under the same stress.

    python -m bench.broker --runs 5

Each run: 4 producer and 3 consumer processes, 20,000 messages (tests/support/broker_stress.py).
Prints, per transport and run: delivered, duplicates, missing, consumer crashes and seconds; a
file-system run stops at its first consumer crash or after ``--deadline`` seconds.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from bench.common import print_table, run_metadata, write_json
from tests.support.broker_stress import run_stress

TRANSPORTS = ("sqlite://", "filesystem://")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--deadline", type=float, default=120.0, help="seconds per run")
    parser.add_argument("--out-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    rows, runs = [], []
    for url in TRANSPORTS:
        for number in range(1, args.runs + 1):
            with tempfile.TemporaryDirectory(prefix="nanomon-broker-") as folder:
                report = run_stress(
                    url,
                    Path(folder),
                    messages=args.messages,
                    stop_on_crash=True,
                    deadline_seconds=args.deadline,
                )
            runs.append({"transport": url, "run": number, **asdict(report)})
            crash = report.crashes[0].split(":")[0] if report.crashes else ""
            rows.append(
                [url, number, report.received, report.duplicates, report.missing,
                 len(report.crashes), crash, report.seconds]
            )  # fmt: skip
            print(f"{url} run {number}: {report}", flush=True)
    print_table(
        f"{args.messages:,} messages, 4 producers, 3 consumers (processes)",
        ["transport", "run", "delivered", "duplicates", "missing", "crashes", "error", "s"],
        rows,
    )
    write_json("broker", {**run_metadata(), "runs": runs}, args.out_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
