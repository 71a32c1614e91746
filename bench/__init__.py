"""Benchmarks: the probe engine against blackbox_exporter, scale, and the read path.

See ``bench/README.md``. Each script prints a small table and writes its figures as JSON to
``bench/out/<name>-<timestamp>.json`` (git-ignored).
"""
