"""The REST API for results (NanoMon-compatible; docs/api.md)."""
