"""The /metrics scrape reads every web worker's multi-process file: a file a worker has just
created (empty until it is sized) must not fail the scrape (struct.error, seen in CI under
gunicorn's threaded workers)."""

from __future__ import annotations

import json
import os

from prometheus_client.mmap_dict import MmapedDict

from metrics.views import _FolderCollector


def test_an_empty_file_being_created_is_skipped_and_the_others_are_read(tmp_path):
    live = MmapedDict(str(tmp_path / f"counter_{os.getpid()}.db"))
    key = json.dumps(("nanomon_demo_total", "nanomon_demo_total", {}, "demo help"))
    live.write_value(key, 3.0, 0.0)
    live.close()
    # A live worker between open and truncate; a dead one that never got further.
    (tmp_path / f"counter_{os.getppid()}.db").write_bytes(b"")
    (tmp_path / "counter_999999.db").write_bytes(b"")

    families = _FolderCollector(str(tmp_path)).collect()

    samples = [s for family in families for s in family.samples]
    assert [(s.name, s.value) for s in samples] == [("nanomon_demo_total", 3.0)]
    assert not (tmp_path / "counter_999999.db").exists()  # the dead one is cleared away
