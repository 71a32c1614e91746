"""The commands' progress line: records so far on a terminal (rewritten in place at most a
few times a second), and one summary line at the end, terminal or not."""

from __future__ import annotations

import time


class Progress:
    def __init__(self, out, verb: str, *, interval: float = 0.25) -> None:
        self.out = out
        self.verb = verb
        self.interval = interval
        self.tty = out.isatty()
        self.counts: dict[str, int] = {}
        self.started = time.monotonic()
        self.shown = 0.0

    def _text(self) -> str:
        parts = ", ".join(f"{count} {name}" for name, count in self.counts.items())
        return f"{sum(self.counts.values())} records {self.verb} ({parts or 'none'})"

    def update(self, counts: dict[str, int]) -> None:
        self.counts = dict(counts)
        now = time.monotonic()
        if self.tty and now - self.shown >= self.interval:
            self.shown = now
            self.out.write(f"\r\033[K{self._text()}", ending="")
            self.out.flush()

    def clear(self) -> None:
        if self.tty:
            self.out.write("\r\033[K", ending="")

    def done(self, what: str) -> None:
        self.clear()
        seconds = time.monotonic() - self.started
        self.out.write(f"{what}: {self._text()} in {seconds:.1f} s")
