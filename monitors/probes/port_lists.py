"""Port lists as the portscan type writes them: ``22,80,443,8000-8100``.

A list is comma-separated items, each a port (1–65535) or an inclusive range ``low-high``
(``low`` ≤ ``high``); spaces around items are ignored, repeats and overlaps are merged, and the
result is the sorted set of distinct ports. A list names at most ``MAX_PORTS`` ports: more is
refused with a message naming the cap (``names 8101 ports; at most 4096 may be scanned``).

``compact`` writes a set back as a list with ranges (what a remembering scan stores);
``join`` writes it port by port (what a rule compares: ``22,80``).
"""

from __future__ import annotations

from collections.abc import Iterable

MAX_PORTS = 4096
NONE = "none"  # expectOpen=none: no port is expected open


def _port(text: str, item: str) -> int:
    if not text.isdigit():
        raise ValueError(f"{item!r} is not a port or a range such as 8000-8100")
    port = int(text)
    if not 1 <= port <= 65535:
        raise ValueError(f"port {port} is out of range (1-65535)")
    return port


def parse_ports(text: str) -> tuple[int, ...]:
    """The sorted distinct ports of ``text``; ``ValueError`` with a short reason."""
    ports: set[int] = set()
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            raise ValueError(f"empty item in {text!r}: write ports such as 22,80,8000-8100")
        low_text, dash, high_text = item.partition("-")
        low = _port(low_text.strip(), item)
        high = _port(high_text.strip(), item) if dash else low
        if high < low:
            raise ValueError(f"range {item!r} runs backwards: write {high}-{low}")
        if high - low + 1 > MAX_PORTS:  # refuse before building a huge set
            raise ValueError(_too_many(high - low + 1))
        ports.update(range(low, high + 1))
        if len(ports) > MAX_PORTS:
            raise ValueError(_too_many(_count(text)))
    return tuple(sorted(ports))


def parse_expected(text: str) -> tuple[int, ...]:
    """A port list, or ``none`` (any case) for the empty set."""
    if text.strip().lower() == NONE:
        return ()
    return parse_ports(text)


def _too_many(count: int) -> str:
    return f"names {count} ports; at most {MAX_PORTS} may be scanned"


def _count(text: str) -> int:
    """How many distinct ports ``text`` names (called once it is known to be too many)."""
    ports: set[int] = set()
    for item in text.split(","):
        low, dash, high = item.strip().partition("-")
        try:
            first, last = int(low), int(high if dash else low)
        except ValueError:
            continue  # a bad item further on: the count is of the ports that parse
        ports.update(range(max(first, 1), min(last, 65535) + 1))
    return len(ports)


def join(ports: Iterable[int]) -> str:
    """``22,80,443``: every port, ascending, no spaces; ``""`` for none."""
    return ",".join(str(port) for port in sorted(ports))


def compact(ports: Iterable[int]) -> str:
    """``22,80,8000-8100``: runs of consecutive ports as ranges; ``""`` for none."""
    items: list[str] = []
    ordered = sorted(set(ports))
    start = 0
    for index in range(1, len(ordered) + 1):
        if index == len(ordered) or ordered[index] != ordered[index - 1] + 1:
            low, high = ordered[start], ordered[index - 1]
            items.append(str(low) if low == high else f"{low}-{high}")
            start = index
    return ",".join(items)
