"""The monitor form of the new/edit pages: properties offered per type from the probe
declarations, and the starting points (``MONITOR_TEMPLATES``) of a new monitor.

Every check is the one ``monitors.validation.check_monitor_definition`` makes, so a page says
exactly what the API says. The form runs it once per field in isolation (the other fields
set to neutral values) to show every problem next to its field at once, not only the first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from monitors.api.serializers import restore_masked_secrets
from monitors.autodetect import decide_kind, why_undecided
from monitors.imports import masked_secret_problem
from monitors.models import Monitor
from monitors.probes import REGISTRY, monitor_templates
from monitors.probes.base import PropertySpec, parse_bool
from monitors.secrets import (
    masked_properties,
    masked_target,
    masked_target_problem,
    restore_masked_target,
)
from monitors.services import monitor_create, monitor_update
from monitors.tags import MAX_GROUP, TAG_RULE, group_problem, tags_normalized
from monitors.validation import UNSET_INTERVAL, check_monitor_definition

# Properties whose values are usually several lines (a request body, a headers object, an
# ssh private key).
MULTILINE_PROPERTIES = frozenset({"body", "headers", "privateKey"})

# Starting points for a new monitor, one per type (declared by each probe module).
MONITOR_TEMPLATES = monitor_templates()
DEFAULT_TEMPLATE = "http"
# The type choice that lets the target decide (``monitors.autodetect``); never stored.
AUTO_KIND = "auto"

_PROPERTY_IN_MESSAGE = re.compile(r"^property '([^']*)'")


def property_field_name(kind: str, name: str) -> str:
    return f"prop__{kind}__{name}"


def _property_field(spec: PropertySpec) -> forms.Field:
    attrs = {"spellcheck": "false", "autocomplete": "off"}
    if spec.choices or spec.parse is parse_bool:
        options = spec.choices or ("true", "false")
        blank = f"Default ({spec.default})" if spec.default is not None else "Not set"
        widget: forms.Widget = forms.Select(
            choices=[("", blank), *((option, option) for option in options)]
        )
    elif spec.name in MULTILINE_PROPERTIES:
        widget = forms.Textarea(attrs={**attrs, "rows": 3})
    else:
        placeholder = f"default: {spec.default}" if spec.default is not None else "not set"
        widget = forms.TextInput(attrs={**attrs, "placeholder": placeholder})
    help_text = spec.help + (
        " Secret: masked for people who may not change it." if spec.secret else ""
    )
    return forms.CharField(
        label=spec.name, required=False, strip=False, widget=widget, help_text=help_text
    )


@dataclass(frozen=True)
class PropertySection:
    """The property fields of one type, for the template."""

    kind: str
    label: str
    fields: list[forms.BoundField]


class MonitorForm(forms.Form):
    """A monitor's definition. ``instance`` given: edits it (masked secrets sent back unchanged
    keep the stored secret)."""

    name = forms.CharField(
        max_length=Monitor._meta.get_field("name").max_length,
        strip=False,
        error_messages={"required": "missing monitor name"},
        help_text="Shown on every page and in alerts; stored exactly as written.",
    )
    kind = forms.ChoiceField(
        label="Type",
        choices=[
            *((kind, probe.label) for kind, probe in REGISTRY.items()),
            (AUTO_KIND, "Decide from the target (URL: HTTP, host:port: TCP, host: ping)"),
        ],
        error_messages={
            "required": "missing monitor type",
            "invalid_choice": "invalid monitor type",
        },
    )
    target = forms.CharField(
        max_length=Monitor._meta.get_field("target").max_length,
        strip=False,
        error_messages={"required": "missing monitor target"},
        help_text="What to probe; its shape depends on the type.",
        widget=forms.TextInput(attrs={"spellcheck": "false", "autocomplete": "off"}),
    )
    interval = forms.CharField(
        max_length=Monitor._meta.get_field("interval").max_length,
        strip=False,
        error_messages={"required": "missing monitor interval"},
        help_text="How often it runs: a duration such as 30s, 1m, 1.5h or 1h30m (at least 1s).",
        widget=forms.TextInput(attrs={"spellcheck": "false", "autocomplete": "off"}),
    )
    rule = forms.CharField(
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false", "autocomplete": "off"}),
        help_text="Optional. Without a rule any answer is Good. Uses the outputs listed below.",
    )
    enabled = forms.BooleanField(required=False, help_text="Disabled monitors never run.")
    group = forms.CharField(
        required=False,
        strip=True,
        max_length=MAX_GROUP,
        help_text="Optional. Monitors of a group are one section of the monitors page and "
        "the dashboard.",
    )
    tags = forms.CharField(
        required=False,
        help_text=f"Optional, separated by commas or spaces: prod, db. Each {TAG_RULE}.",
        widget=forms.TextInput(attrs={"spellcheck": "false", "autocomplete": "off"}),
    )

    def __init__(self, *args, instance: Monitor | None = None, **kwargs) -> None:
        self.instance = instance
        if instance is not None and "initial" not in kwargs:
            kwargs["initial"] = self.initial_for(instance)
        super().__init__(*args, **kwargs)
        for kind, probe_type in REGISTRY.items():
            for spec in probe_type.properties:
                self.fields[property_field_name(kind, spec.name)] = _property_field(spec)

    @staticmethod
    def initial_for(monitor: Monitor) -> dict[str, object]:
        initial: dict[str, object] = {
            "name": monitor.name,
            "kind": monitor.kind,
            # Nor the credentials of a target (user info, ?token=…): masked like secrets.
            "target": masked_target(monitor.target),
            "interval": monitor.interval,
            "rule": monitor.rule,
            "enabled": monitor.enabled,
            "group": monitor.group,
            "tags": ", ".join(monitor.tags or []),
        }
        # Secrets are never written into the page: the mask comes back and keeps the secret.
        for name, value in masked_properties(monitor.kind, monitor.properties).items():
            initial[property_field_name(monitor.kind, name)] = value
        return initial

    @staticmethod
    def initial_from_template(kind: str) -> dict[str, object]:
        template = MONITOR_TEMPLATES[kind]
        initial: dict[str, object] = {
            key: template[key] for key in ("name", "target", "interval", "rule")
        }
        initial.update(kind=kind, enabled=True)
        for name, value in dict(template["properties"]).items():
            initial[property_field_name(kind, name)] = value
        return initial

    def property_sections(self) -> list[PropertySection]:
        return [
            PropertySection(
                kind=kind,
                label=probe_type.label,
                fields=[
                    self[property_field_name(kind, spec.name)] for spec in probe_type.properties
                ],
            )
            for kind, probe_type in REGISTRY.items()
        ]

    def selected_kind(self) -> str:
        kind = self["kind"].value()
        return kind if kind in REGISTRY or kind == AUTO_KIND else DEFAULT_TEMPLATE

    def _properties_of(self, kind: str) -> dict[str, str]:
        """The non-empty property values given for ``kind`` (empty means: use the default)."""
        properties = {}
        for spec in REGISTRY[kind].properties:
            value = self.cleaned_data.get(property_field_name(kind, spec.name)) or ""
            if value:
                properties[spec.name] = value
        return properties

    def clean(self) -> dict[str, object]:
        data = super().clean()
        kind = data.get("kind")
        if kind == AUTO_KIND:  # the target decides the type (and an http monitor's rule)
            target = data.get("target") or ""
            kind, data["rule"] = decide_kind("", target, data.get("rule") or "")
            if not kind:
                if target:
                    reason = why_undecided(target)
                    self.add_error(
                        "kind", f"missing monitor type: the target does not decide it: {reason}"
                    )
                return data
            data["kind"] = kind
        if kind not in REGISTRY:
            return data
        properties = self._properties_of(kind)
        if self.instance is not None:
            properties = restore_masked_secrets(kind, properties, self.instance.properties or {})
            if data.get("target"):
                data["target"] = restore_masked_target(data["target"], self.instance.target)
        data["properties"] = properties
        neutral = {
            "name": "n",
            "kind": kind,
            "interval": UNSET_INTERVAL,  # a timeout is held to the real one in the full check
            "target": MONITOR_TEMPLATES[kind]["target"],  # a valid target of the type
            "rule": "",
            "properties": {},
        }
        checks: list[dict[str, object]] = []
        if data.get("interval"):
            checks.append({"interval": data["interval"]})
        if data.get("rule"):
            checks.append({"rule": data["rule"]})
        checks.extend({"properties": {name: value}} for name, value in properties.items())
        for overrides in checks:
            try:
                check_monitor_definition(**{**neutral, **overrides})
            except ValidationError as error:
                self._add_definition_error(error, kind)
        if data.get("target") and not any(
            name.startswith("prop__") or name == NON_FIELD_ERRORS for name in self.errors
        ):  # the target with the properties given (dns: an address needs type PTR)
            try:
                check_monitor_definition(
                    **{**neutral, "target": data["target"], "properties": properties}
                )
            except ValidationError as error:
                self._add_definition_error(error, kind)
        if not self.errors:
            problem = masked_target_problem(data.get("target") or "")
            if problem is not None:
                self.add_error("target", problem)
        if not self.errors:
            problem = masked_secret_problem(kind, properties)
            if problem is not None:
                self._add_definition_error(ValidationError({"properties": problem}), kind)
        if not self.errors:
            try:  # the one full check, in the contract's order
                check_monitor_definition(
                    name=data["name"],
                    kind=kind,
                    interval=data["interval"],
                    target=data["target"],
                    rule=data.get("rule") or "",
                    properties=properties,
                )
            except ValidationError as error:
                self._add_definition_error(error, kind)
        return data

    def _add_definition_error(self, error: ValidationError, kind: str) -> None:
        """Put a validation error next to its field (a property's next to that property)."""
        if not hasattr(error, "error_dict"):
            self.add_error(None, error)
            return
        for field_name, messages in error.message_dict.items():
            for message in messages:
                target = field_name if field_name in self.fields else None
                if field_name == "properties":
                    match = _PROPERTY_IN_MESSAGE.match(message)
                    candidate = property_field_name(kind, match.group(1)) if match else ""
                    target = candidate if candidate in self.fields else None
                if target is None or target not in self.errors:
                    self.add_error(target, message)

    def definition(self) -> dict[str, object]:
        """The editable fields, as ``monitor_create``/``monitor_update`` take them."""
        data = self.cleaned_data
        return {
            "name": data["name"],
            "kind": data["kind"],
            "target": data["target"],
            "interval": data["interval"],
            "rule": data.get("rule") or "",
            "enabled": bool(data.get("enabled")),
            "properties": data["properties"],
            "group": data.get("group") or "",
            "tags": data.get("tags") or [],
        }

    def clean_tags(self) -> list[str]:
        try:
            return tags_normalized(self.cleaned_data.get("tags") or "")
        except ValueError as error:
            raise ValidationError(str(error)) from None

    def clean_group(self) -> str:
        group = self.cleaned_data.get("group") or ""
        if (problem := group_problem(group)) is not None:
            raise ValidationError(problem)
        return group

    def save(self) -> Monitor:
        """Create or update through the services; a ``ValidationError`` they raise (a race
        with another edit) is put on the form and re-raised."""
        try:
            if self.instance is None:
                return monitor_create(**self.definition())
            return monitor_update(self.instance, **self.definition())
        except ValidationError as error:
            self._add_definition_error(error, self.cleaned_data["kind"])
            raise
