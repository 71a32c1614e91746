"""The channel form: one set of fields per kind, built from the transports' declarations.

Secret fields are never filled in from the stored value: they show blank with the masked
value in their help, and a blank secret keeps what is stored.
"""

from __future__ import annotations

import json

from django import forms
from django.core.exceptions import ValidationError

from alerts.channels import REGISTRY
from alerts.channels.base import ConfigField, mask_value
from alerts.models import Channel
from monitors.tags import TAG_RULE, tags_normalized

KEEP_HINT = "Leave blank to keep the stored value."


def config_field_name(kind: str, name: str) -> str:
    """The form field of the config field ``name`` of ``kind`` (``webhook_url``)."""
    return f"{kind}_{name}"


def _initial(spec: ConfigField, value: object) -> object:
    if value is None:
        value = spec.default
    if spec.type == "list" and isinstance(value, list):
        return "\n".join(value)
    if spec.type == "headers" and isinstance(value, dict):
        return json.dumps(value) if value else ""
    return value


def _form_field(spec: ConfigField, current: object) -> forms.Field:
    """A form field for ``spec`` (never required here: the transport checks the chosen kind)."""
    help_text = spec.help
    if spec.secret:
        shown = mask_value(spec, current) if current not in (None, "", [], {}) else None
        if shown is not None:
            if isinstance(shown, dict | list):
                shown = json.dumps(shown, ensure_ascii=False)
            help_text = f"{help_text} Stored: {shown}. {KEEP_HINT}".strip()
        initial = None
    else:
        initial = _initial(spec, current)
    common = {"label": spec.label, "help_text": help_text, "required": False, "initial": initial}
    if spec.type == "bool":
        return forms.BooleanField(**common)
    if spec.type == "int":
        return forms.IntegerField(min_value=spec.minimum, max_value=spec.maximum, **common)
    if spec.type == "choice":
        return forms.ChoiceField(choices=[(choice, choice) for choice in spec.choices], **common)
    if spec.type == "password":
        widget = forms.PasswordInput(render_value=False)
        return forms.CharField(strip=False, widget=widget, **common)
    if spec.type in {"list", "headers", "template"}:
        return forms.CharField(strip=False, widget=forms.Textarea(attrs={"rows": 3}), **common)
    return forms.CharField(strip=spec.type != "template", **common)


class ChannelForm(forms.ModelForm):
    """Name, kind and flags of a channel plus every kind's config fields (prefixed by kind)."""

    tags = forms.CharField(
        required=False,
        help_text="Monitors with any of these tags also notify this channel, whatever their own "
        f"channel selection. Separated by commas or spaces: prod, db. Each {TAG_RULE}.",
        widget=forms.TextInput(attrs={"spellcheck": "false", "autocomplete": "off"}),
    )

    class Meta:
        model = Channel
        fields = ["name", "kind", "enabled", "is_default", "tags"]

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.initial["tags"] = ", ".join(self.instance.tags or [])
        self.cleaned_config: dict[str, object] | None = None
        self.is_builtin = bool(self.instance.pk and self.instance.builtin)
        if self.is_builtin:
            self.fields["kind"].disabled = True
            return
        stored = self.instance.config if self.instance.pk else {}
        for kind, transport in REGISTRY.items():
            for spec in transport.fields:
                current = stored.get(spec.name) if kind == self.instance.kind else None
                self.fields[config_field_name(kind, spec.name)] = _form_field(spec, current)

    def clean_tags(self) -> list[str]:
        try:
            return tags_normalized(self.cleaned_data.get("tags") or "")
        except ValueError as error:
            raise ValidationError(str(error)) from None

    def clean(self) -> dict[str, object]:
        data = super().clean()
        kind = data.get("kind")
        if self.is_builtin or kind not in REGISTRY:
            return data
        transport = REGISTRY[kind]
        raw = {spec.name: data.get(config_field_name(kind, spec.name)) for spec in transport.fields}
        same_kind = self.instance.pk and self.instance.kind == kind
        current = self.instance.config if same_kind else None  # the stored one: not yet assigned
        try:
            self.cleaned_config = transport.clean_config(raw, current=current)
        except ValidationError as error:
            for name, messages in error.message_dict.items():
                field = config_field_name(kind, name)
                self.add_error(field if field in self.fields else None, messages)
        return data
