"""The REST API for monitors (NanoMon-compatible; README "API")."""
