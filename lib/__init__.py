"""Helpers shared by every app: no models, no imports from the apps (import-linter keeps it so)."""
