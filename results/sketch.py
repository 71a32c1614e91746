"""A mergeable sketch of values for percentiles: a sparse log-spaced histogram.

A positive value ``v`` falls in bucket ``k = floor(log(v / SMALLEST) / log(GROWTH)) + 1``
(values at or below ``SMALLEST`` in bucket 0, negative ones mirrored in ``-k``). A bucket's
values lie within a factor ``GROWTH`` of each other, so its geometric middle is within
``sqrt(GROWTH) - 1`` (4.9 %) of any of them: a percentile read from the sketch is within 4.9 %
of the exact nearest-rank percentile (and clamped to the exact min and max). Two sketches merge
by adding counts (an hour's into its day's), so rollups stay exact under incremental writes.
Stored as ``{"k": count}`` (JSON keys are strings); a monitor's values usually span a few
dozen buckets.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

GROWTH = 1.1
SMALLEST = 1e-3  # values at or below (in size) share bucket 0
_LOG_GROWTH = math.log(GROWTH)
RELATIVE_ERROR = math.sqrt(GROWTH) - 1


def bucket(value: float) -> int:
    """The bucket of ``value``."""
    size = abs(value)
    if not math.isfinite(size):
        size = 1e300
    if size <= SMALLEST:
        return 0
    index = int(math.log(size / SMALLEST) / _LOG_GROWTH) + 1
    return index if value > 0 else -index


def _middle(index: int) -> float:
    if index == 0:
        return 0.0
    size = SMALLEST * GROWTH ** (abs(index) - 0.5)
    return size if index > 0 else -size


def sketch_of(values: Iterable[float]) -> dict[str, int]:
    """The sketch of ``values``."""
    counts: dict[str, int] = {}
    for value in values:
        key = str(bucket(value))
        counts[key] = counts.get(key, 0) + 1
    return counts


def sketch_merge(into: dict[str, int], other: Mapping[str, int]) -> dict[str, int]:
    """Add ``other``'s counts to ``into`` (changed in place) and return it."""
    for key, count in other.items():
        into[key] = into.get(key, 0) + int(count)
    return into


def sketch_quantile(
    sketch: Mapping[str, int],
    quantile: float,
    *,
    low: float | None = None,
    high: float | None = None,
) -> float | None:
    """The ``quantile`` (0–1, nearest rank) of the values in ``sketch``, within
    ``RELATIVE_ERROR``; clamped to ``low``/``high`` (the exact min and max) when given. None
    for an empty sketch."""
    total = sum(int(count) for count in sketch.values())
    if total <= 0:
        return None
    rank = max(1, math.ceil(quantile * total))
    seen = 0
    for index in sorted(int(key) for key in sketch):
        seen += int(sketch[str(index)])
        if seen >= rank:
            value = _middle(index)
            break
    if low is not None:
        value = max(value, low)
    if high is not None:
        value = min(value, high)
    return value
