"""Drawing benchmark: the chart of every period and the badges, full of data, no database.

    .venv/bin/python -m bench.charts --repeat 50

The queries behind a chart are ``bench.history``'s (``rollup_series``, ``results_between``);
this times what the web process adds on top: turning a period's points into the SVG document
(``web.timechart.render_chart``) and drawing a badge (``web.badges.render_badge``). Each period
is full: 24 hours of runs at 10 s (8,640 runs, drawn as 288 five-minute buckets), a week and 30
days of hour buckets, 90 and 365 days of day buckets, each with min/max and a few Error runs;
the several-monitor chart has 10 monitors over 7 days. p50/p95/max in ms and the document's
size, printed and written as JSON to ``bench/out/``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from datetime import UTC, datetime, timedelta

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nanomon.settings")
django.setup()

from bench.common import OUT_DIR, print_table, run_metadata, summarize  # noqa: E402
from web.badges import Badge, render_badge  # noqa: E402
from web.history import _bucketed  # noqa: E402
from web.timechart import ChartSpec, Sample, Series, render_chart  # noqa: E402

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def buckets(count: int, size: timedelta, rng: random.Random) -> list[Sample]:
    samples = []
    for index in range(count):
        start = NOW - (count - index) * size
        average = 40 + rng.random() * 20
        errors = 2 if rng.random() < 0.05 else 0
        samples.append(
            Sample(start, start + size, average, ok=60 - errors, error=errors,
                   low=average - 15 * rng.random(), high=average + 60 * rng.random())
        )  # fmt: skip
    return samples


def runs_24h(rng: random.Random) -> list[Sample]:
    step = timedelta(seconds=10)
    since = NOW - timedelta(hours=24)
    raw = [
        Sample(since + index * step, since + (index + 1) * step, 30 + rng.random() * 40, ok=1)
        for index in range(8640)
    ]
    return _bucketed(raw, since, timedelta(minutes=5))


def cases(rng: random.Random) -> dict[str, ChartSpec]:
    hour, day = timedelta(hours=1), timedelta(days=1)

    def one(samples: list[Sample], span: timedelta, gap: timedelta) -> ChartSpec:
        return ChartSpec(since=NOW - span, until=NOW, series=[Series("web", samples, gap)])

    return {
        "24h (8,640 runs)": one(runs_24h(rng), 24 * hour, timedelta(minutes=7.5)),
        "7d (168 hours)": one(buckets(168, hour, rng), 7 * day, 1.5 * hour),
        "30d (720 hours)": one(buckets(720, hour, rng), 30 * day, 1.5 * hour),
        "90d (90 days)": one(buckets(90, day, rng), 90 * day, 1.5 * day),
        "365d (365 days)": one(buckets(365, day, rng), 365 * day, 1.5 * day),
        "7d, 10 monitors": ChartSpec(
            since=NOW - 7 * day,
            until=NOW,
            y_max=200,
            series=[Series(f"monitor {n}", buckets(168, hour, rng), 1.5 * hour) for n in range(10)],
        ),
    }


def timed(draw, repeat: int) -> tuple[dict, int]:
    times, size = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        size = len(draw())
        times.append((time.perf_counter() - started) * 1000)
    return summarize(times), size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    rng = random.Random(15)
    results = {}
    for name, spec in cases(rng).items():
        results[name] = timed(lambda spec=spec: render_chart(spec), args.repeat)
    for style in ("flat", "for-the-badge"):
        badge = Badge("Uptime (30d)", "99.95%", "#4c1", style=style)
        results[f"badge, {style}"] = timed(lambda badge=badge: render_badge(badge), args.repeat)
    print_table(
        f"Drawing (ms, {args.repeat} runs each)",
        ["drawing", "p50", "p95", "max", "KiB"],
        [
            [name, stats["p50"], stats["p95"], stats["max"], round(size / 1024, 1)]
            for name, (stats, size) in results.items()
        ],
    )
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    out = OUT_DIR / f"charts-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    report = {
        "run": run_metadata(),
        "drawings": {name: {**stats, "bytes": size} for name, (stats, size) in results.items()},
    }
    out.write_text(json.dumps(report, indent=2))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
