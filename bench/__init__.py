"""Benchmarks: the probe engine against blackbox_exporter, scale, the read path, the pages
and where ``GET /api/monitors`` spends its time.

See ``bench/README.md``. Each script prints a small table and writes its figures as JSON to
``bench/out/<name>-<timestamp>.json`` (git-ignored).
"""
