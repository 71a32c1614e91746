"""The REST API for monitors (NanoMon-compatible; docs/api.md)."""
