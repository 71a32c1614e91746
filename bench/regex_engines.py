"""Catastrophic regular expressions: Python's re (backtracking) against NanoMon's RE2.

For each pattern, the time to search a body of ``--size`` bytes (``a``s ending in ``!``, the
shape that makes backtracking explode) with:

* ``lib.regex`` as a rule's ``=~`` uses it (no groups: RE2's DFA) and as ``bodyRegex``
  does (group 1 wanted: RE2's NFA on the match), in this process;
* Python's ``re`` on the same body and on the issue's 40 ``a``s and a ``!``, each in a child
  process stopped after ``--limit`` seconds (``re`` holds the GIL and cannot be interrupted).

    .venv/bin/python -m bench.regex_engines            # 1 MiB, re stopped after 5 s
    .venv/bin/python -m bench.regex_engines --size 65536 --limit 2
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from bench.common import print_table, run_metadata, write_json

PATTERNS = (
    r"(a+)+$",
    r"(a|aa)+$",
    r"(.*a){20}",
    r"(.*a){20}$",
    r"^(\w+\s?)+$",
    r"(x+x+)+y",
    r"((a{1,10}){1,10}){1,10}$",
)

_CHILD = """
import re, sys, time
pattern, size = sys.argv[1], int(sys.argv[2])
text = "a" * (size - 1) + "!"
compiled = re.compile(pattern)
started = time.perf_counter()
compiled.search(text)
print(time.perf_counter() - started)
"""


def python_re_seconds(pattern: str, size: int, limit: float) -> float | None:
    """Seconds Python's re takes to search ``size`` bytes; None when stopped at ``limit``."""
    try:
        finished = subprocess.run(
            [sys.executable, "-c", _CHILD, pattern, str(size)],
            capture_output=True,
            text=True,
            timeout=limit,
            check=True,
        )
    except subprocess.TimeoutExpired:
        return None
    return float(finished.stdout.strip())


def re2_seconds(pattern: str, size: int, *, capture: bool) -> float:
    from lib.regex import compile_regex

    compiled = compile_regex(pattern, capture=capture)
    text = "a" * (size - 1) + "!"
    started = time.perf_counter()
    if capture:
        compiled.first_group(text)
    else:
        compiled.search(text)
    return time.perf_counter() - started


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.regex_engines", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--size", type=int, default=1 << 20, help="body bytes (1 MiB)")
    parser.add_argument("--limit", type=float, default=5.0, help="seconds before re is stopped")
    parser.add_argument("--out-dir", default=None, help="where the JSON goes (bench/out)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    meta = run_metadata()
    rows = []
    for pattern in PATTERNS:
        rows.append(
            {
                "pattern": pattern,
                "re2_rule_s": re2_seconds(pattern, arguments.size, capture=False),
                "re2_body_regex_s": re2_seconds(pattern, arguments.size, capture=True),
                "re_s": python_re_seconds(pattern, arguments.size, arguments.limit),
                "re_40_a_s": python_re_seconds(pattern, 41, arguments.limit),
            }
        )
    stopped = f"> {arguments.limit:g} (stopped)"
    print_table(
        f"Search of {arguments.size:,} bytes ('a's then '!'), seconds",
        ["pattern", "RE2 =~", "RE2 bodyRegex", "Python re", "re, 40 a's + '!'"],
        [
            [row["pattern"], row["re2_rule_s"], row["re2_body_regex_s"],
             stopped if row["re_s"] is None else row["re_s"],
             stopped if row["re_40_a_s"] is None else row["re_40_a_s"]]
            for row in rows
        ],
    )  # fmt: skip
    write_json(
        "regex_engines",
        {
            "benchmark": "regex_engines",
            **meta,
            "size": arguments.size,
            "limit_seconds": arguments.limit,
            "rows": rows,
        },
        out_dir=None if arguments.out_dir is None else Path(arguments.out_dir),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
