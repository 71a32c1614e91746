"""OpenAPI schema adjustments (drf-spectacular ``POSTPROCESSING_HOOKS``)."""

from __future__ import annotations

# Response bodies that always carry every field (null where the field says so). Their
# writable fields are optional on input, which would otherwise leave them optional here too.
COMPLETE_RESPONSES = ("Monitor", "ExportedMonitor", "Result", "CheckResult", "Problem")


def require_response_fields(result, generator, request, public):
    """Mark every property of the complete response components as required."""
    schemas = result.get("components", {}).get("schemas", {})
    for name in COMPLETE_RESPONSES:
        if name in schemas:
            schemas[name]["required"] = sorted(schemas[name].get("properties", {}))
    return result
