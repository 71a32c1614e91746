"""The OpenAPI description of monitor definitions (a drf-spectacular ``POSTPROCESSING_HOOKS``
entry; the site-wide hooks are in ``nanomon.api.schema``)."""

from __future__ import annotations

from monitors.api.serializers import LENGTH_LIMITS, MAX_PROPERTY_LENGTH
from monitors.probes import REGISTRY, is_passive
from monitors.rules import MAX_RULE_LENGTH
from monitors.tags import MAX_GROUP, MAX_TAGS, TAG

# Monitor definitions as they are sent (create, replace, import, test). The serializer reads
# them as NanoMon's Go decoder does, so the schema says what it takes: ``null`` for the zero
# value of a string, boolean or object; the column lengths; the types that exist (or none: the
# target decides, ``monitors.autodetect``). What JSON
# Schema cannot say (a target's shape for its type, the rule's grammar, an interval of 1s to
# 720h above the timeout) is checked after, with a 400 naming it (docs/api.md).
DEFINITION_REQUESTS = ("MonitorRequest", "ExportedMonitorRequest", "CheckRequest")
# The monitor list's tag and group filters (monitors.filtersets): up to 20 tags separated by
# commas or spaces, each as monitors.tags takes them; a group as long as the column.
QUERY_LIMITS = {
    "tag": {
        "maxLength": 400,
        "pattern": rf"^[,\s]*({TAG.pattern}([,\s]+|$)){{0,{MAX_TAGS}}}$",
    },
    "group": {"maxLength": MAX_GROUP},
}


def describe_monitor_definitions(result, generator, request, public):
    """The request components of monitor definitions, as strictly as the serializer reads
    them (see ``DEFINITION_REQUESTS``)."""
    kinds = sorted(REGISTRY)
    schemas = result.get("components", {}).get("schemas", {})
    for name in DEFINITION_REQUESTS:
        properties = schemas.get(name, {}).get("properties")
        if properties is None:
            continue
        one_off = name == "CheckRequest"
        lengths = {**LENGTH_LIMITS, "rule": MAX_RULE_LENGTH, "group": MAX_GROUP}
        for field, limit in lengths.items():
            if field in properties:
                properties[field].update(type=["string", "null"], maxLength=limit)
        properties["name"].update(
            type=["string", "null"] if one_off else "string", minLength=0 if one_off else 1
        )
        properties["target"].update(type="string", minLength=1)
        # Empty, null or absent: the target decides the type (monitors.autodetect). A one-off
        # check cannot be of a passive type (push: nothing to probe).
        types = [kind for kind in kinds if not (one_off and is_passive(kind))]
        properties["type"].update(type=["string", "null"], enum=[*types, "", None])
        if "interval" in properties:
            properties["interval"].update(type="string", minLength=1)
        for field in ("name", "type", "target", "interval"):
            if field in properties and field != "type" and not (one_off and field == "name"):
                properties[field].pop("default", None)  # "" is not a valid value here
        if "enabled" in properties:
            properties["enabled"]["type"] = ["boolean", "null"]
        schemas[name]["required"] = ["target"] if one_off else ["name", "interval", "target"]
        properties["properties"] = {
            **properties["properties"],
            "type": ["object", "null"],
            "additionalProperties": {"type": "string", "maxLength": MAX_PROPERTY_LENGTH},
        }
    # Strings PostgreSQL can store: no NUL (DRF refuses them in every string field).
    plain = {"pattern": "^[^\\u0000]*$"}
    for name in DEFINITION_REQUESTS:
        for field in schemas.get(name, {}).get("properties", {}).values():
            if "string" in field.get("type", ()) and "enum" not in field:
                field.update(plain)
            if "additionalProperties" in field:
                field["additionalProperties"].update(plain)
                field["propertyNames"] = {"minLength": 0, **plain}
    # An empty choice in a query (?type=, ?mode=) is as if absent: the default.
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                if parameter.get("in") == "query" and parameter.get("schema") == {"type": "string"}:
                    parameter["schema"].update(plain)  # ?search=
                values = parameter.get("schema", {}).get("enum")
                if parameter.get("in") == "query" and values is not None and "" not in values:
                    values.append("")
                if parameter.get("in") == "query" and parameter.get("name") in QUERY_LIMITS:
                    parameter["schema"].update(QUERY_LIMITS[parameter["name"]])
    # A body is needed: no body at all is no definition (drf-spectacular leaves it optional, the
    # serializer's fields all having defaults).
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            body = operation.get("requestBody") if isinstance(operation, dict) else None
            if body and any(name in str(body) for name in DEFINITION_REQUESTS):
                body["required"] = True
    return result
