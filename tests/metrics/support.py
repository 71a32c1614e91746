"""Helpers for the metrics tests: run monitors through the real engine, parse an exposition."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from loop.tasks import run_probe_batch
from monitors.scheduling import claim_due_monitors


def run_due_monitors() -> int:
    """Claim every due monitor and run it the way a worker does (synchronously); returns how
    many results were stored."""
    token, claims = claim_due_monitors(now=timezone.now(), limit=1000, lease=timedelta(seconds=60))
    if not claims:
        return 0
    return run_probe_batch(
        str(token), [[claim.monitor_id, claim.scheduled_for.isoformat()] for claim in claims]
    )


@dataclass
class Exposition:
    """A parsed ``/metrics`` page."""

    text: str

    def __post_init__(self) -> None:
        self.families = {
            family.name: family for family in text_string_to_metric_families(self.text)
        }
        self.samples = [sample for family in self.families.values() for sample in family.samples]

    def value(self, name: str, **labels: str) -> float:
        """The one sample called ``name`` whose labels include ``labels``."""
        found = self.find(name, **labels)
        assert len(found) == 1, f"{len(found)} samples {name}{labels}"
        return found[0].value

    def find(self, name: str, **labels: str) -> list:
        return [
            sample
            for sample in self.samples
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
        ]

    def series(self, name: str) -> dict[tuple[tuple[str, str], ...], float]:
        """Every sample of ``name``: sorted label pairs → value."""
        return {
            tuple(sorted(sample.labels.items())): sample.value
            for sample in self.samples
            if sample.name == name
        }


@contextmanager
def listening_socket() -> Iterator[int]:
    """A TCP port on 127.0.0.1 that accepts connections (and closes them); yields the port."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            connection.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=2)
        server.close()
