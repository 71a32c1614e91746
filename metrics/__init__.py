"""Prometheus metrics, health and status: what NanoMon tells the tools that watch it."""
