"""The REST API for results (NanoMon-compatible; README "API")."""
