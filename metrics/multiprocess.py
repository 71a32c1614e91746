"""prometheus_client's multi-process mode for the web server's own metrics (django-prometheus).

gunicorn runs several web workers; each counts its own requests and queries. In multi-process
mode every worker writes its counters to files in one folder and ``/metrics`` sums them, so
each scrape sees the whole server whichever worker answers.

The folder needs looking after: files of workers that have exited must keep counting (or the
sums would drop, which Prometheus reads as a counter reset), yet must not pile up across
restarts. So each web worker when it starts, and each scrape, folds the files of exited
processes into ``<type>_archive.db`` files and deletes them (gauges of exited processes are
just deleted).
``/metrics`` reads under a shared lock and the fold takes it exclusively, so a scrape never
sees a file counted twice or not at all. This needs no gunicorn hooks: ``gunicorn
nanomon.wsgi`` works as it is.

Nothing here imports Django or (before the folder is chosen) prometheus_client: the mode must
be decided through the environment before prometheus_client is first imported.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import os
from collections.abc import Iterator
from pathlib import Path

ENV = "PROMETHEUS_MULTIPROC_DIR"
LOCK_FILE = ".lock"
ARCHIVE = "archive"


def multiprocess_dir(data_dir: Path) -> str | None:
    """Choose the folder for multi-process mode and export it in the environment.

    ``PROMETHEUS_MULTIPROC_DIR`` set by the user wins. Otherwise processes started by gunicorn
    (which sets ``SERVER_SOFTWARE=gunicorn/...``) use ``<data dir>/prometheus``. Anything else
    (the test suite, ``runserver``, Celery workers) keeps plain single-process metrics.
    """
    configured = os.environ.get(ENV, "").strip()
    if not configured:
        # Set but empty (a copied .env.example) would still switch prometheus_client to
        # multi-process mode, writing files into the current folder.
        os.environ.pop(ENV, None)
    if configured:
        folder = Path(configured)
    elif os.environ.get("SERVER_SOFTWARE", "").startswith("gunicorn/"):
        folder = data_dir / "prometheus"
    else:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    os.environ[ENV] = str(folder)
    return str(folder)


@contextlib.contextmanager
def folder_lock(path: str, *, exclusive: bool) -> Iterator[None]:
    """Hold the folder's lock: shared while reading, exclusive while folding files."""
    with open(os.path.join(path, LOCK_FILE), "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _file_pid(filename: str) -> int | None:
    """``counter_123.db`` → 123; ``gauge_livesum_123.db`` → 123; archives → None."""
    last = os.path.basename(filename)[: -len(".db")].rsplit("_", 1)[-1]
    return int(last) if last.isdigit() else None


def compact_dead_processes(path: str) -> int:
    """Fold the files of exited processes into the archive files; returns how many went."""
    from prometheus_client.mmap_dict import MmapedDict

    folded = 0
    with folder_lock(path, exclusive=True):
        for filename in sorted(glob.glob(os.path.join(path, "*.db"))):
            pid = _file_pid(filename)
            if pid is None or pid == os.getpid() or _is_alive(pid):
                continue
            kind = os.path.basename(filename).split("_", 1)[0]
            # Counters, histograms, summaries: their counts live on. An empty file's process
            # died before sizing it: nothing to fold.
            if kind != "gauge" and os.path.getsize(filename) > 0:
                archive = MmapedDict(os.path.join(path, f"{kind}_{ARCHIVE}.db"))
                try:
                    for key, value, timestamp, _ in MmapedDict.read_all_values_from_file(filename):
                        total, _ = archive.read_value(key)
                        archive.write_value(key, total + value, timestamp)
                finally:
                    archive.close()
            os.remove(filename)
            folded += 1
    return folded
