"""Several producer and consumer processes on one kombu transport: is every message
delivered exactly once, and does every consumer survive?

Used by tests/nanomon/test_broker.py against the embedded broker (``sqlite://``) and against kombu's
file-system transport, which loses celery/kombu#1551's race (a consumer reads a message file
its producer created but has not written yet).
"""

from __future__ import annotations

import multiprocessing
import os
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty

QUEUE = "stress"
IDLE_STOP_SECONDS = 3.0


@dataclass
class StressReport:
    sent: int
    received: int
    duplicates: int
    missing: int
    crashes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def exactly_once(self) -> bool:
        return self.received == self.sent and not self.duplicates and not self.missing


def transport_options(url: str, folder: Path) -> dict:
    """Options that put the transport's state in ``folder``; quick polling for both."""
    if url.startswith("filesystem"):
        for name in ("queue", "processed"):
            (folder / name).mkdir(parents=True, exist_ok=True)
        return {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"),
            "control_folder": str(folder / "processed"),
            "store_processed": False,
            "polling_interval": 0.01,
        }
    return {"path": str(folder / "broker.sqlite3"), "polling_interval": 0.01}


def _produce(url: str, options: dict, producer: int, count: int, burst: int) -> None:
    from kombu import Connection

    import nanomon.broker  # noqa: F401  (registers sqlite://)

    with Connection(url, transport_options=options) as connection:
        queue = connection.SimpleQueue(QUEUE)
        for number in range(count):
            queue.put({"id": f"{producer}-{number}"})
            if burst and number % burst == burst - 1:
                # Keep the backlog short, as a live system's is: consumers then take files
                # as they appear, where the file-system transport's race shows (with a pause
                # every 20 messages it delivered all 20,000 in one clean-clone CI run).
                time.sleep(0.005)
        queue.close()


def _consume(url: str, options: dict, out: str, producers_done, stop) -> None:
    from kombu import Connection

    import nanomon.broker  # noqa: F401

    received = []
    idle_since = None
    try:
        with Connection(url, transport_options=options) as connection:
            queue = connection.SimpleQueue(QUEUE)
            while not stop.is_set():
                try:
                    message = queue.get(timeout=0.2)
                except Empty:
                    if producers_done.is_set():
                        idle_since = idle_since or time.monotonic()
                        if time.monotonic() - idle_since > IDLE_STOP_SECONDS:
                            break
                    continue
                idle_since = None
                received.append(message.payload["id"])
                message.ack()
            queue.close()
    except BaseException:
        Path(out + ".crash").write_text(traceback.format_exc())
        raise
    finally:
        Path(out).write_text("\n".join(received))


def run_stress(
    url: str,
    folder: Path,
    *,
    producers: int = 4,
    consumers: int = 3,
    messages: int = 20_000,
    burst: int = 1,
    stop_on_crash: bool = False,
    deadline_seconds: float = 600.0,
) -> StressReport:
    """Send ``messages`` from ``producers`` processes while ``consumers`` processes take them.

    With ``stop_on_crash`` the run ends at the first consumer crash (what is counted is what
    was taken until then); consumers are told to stop after ``deadline_seconds`` anyway."""
    context = multiprocessing.get_context("spawn")  # no inherited connections or Django state
    options = transport_options(url, folder)
    done, stop = context.Event(), context.Event()
    per_producer = messages // producers
    started = time.monotonic()
    outs = [str(folder / f"consumer-{index}.txt") for index in range(consumers)]
    consumer_processes = [
        context.Process(target=_consume, args=(url, options, out, done, stop)) for out in outs
    ]
    producer_processes = [
        context.Process(target=_produce, args=(url, options, index, per_producer, burst))
        for index in range(producers)
    ]
    for process in consumer_processes + producer_processes:
        process.start()
    deadline = started + deadline_seconds
    while any(process.is_alive() for process in consumer_processes):
        if not any(process.is_alive() for process in producer_processes):
            done.set()
        crashed = any(os.path.exists(out + ".crash") for out in outs)
        if (stop_on_crash and crashed) or time.monotonic() > deadline:
            stop.set()
            break
        time.sleep(0.1)
    for process in producer_processes + consumer_processes:
        process.join(timeout=30)
        if process.is_alive():
            process.kill()
            process.join()
    crashes = [
        Path(out + ".crash").read_text().strip().splitlines()[-1]
        for out in outs
        if os.path.exists(out + ".crash")
    ]
    crashes += [
        f"producer exited with {process.exitcode}"
        for process in producer_processes
        if process.exitcode != 0
    ]
    counts: Counter[str] = Counter()
    for out in outs:
        text = Path(out).read_text() if os.path.exists(out) else ""
        counts.update(line for line in text.splitlines() if line)
    sent = {f"{p}-{n}" for p in range(producers) for n in range(per_producer)}
    return StressReport(
        sent=len(sent),
        received=sum(counts.values()),
        duplicates=sum(count - 1 for count in counts.values() if count > 1),
        missing=len(sent - set(counts)),
        crashes=crashes,
        seconds=round(time.monotonic() - started, 1),
    )
