"""The import form of the admin page (``/manage/import``): monitors uploaded or pasted in the
export's format, checked as ``POST /api/monitors/import`` checks them."""

from __future__ import annotations

import json

from django import forms
from rest_framework.exceptions import ValidationError as ApiValidationError

from lib.errors import first_message
from monitors.api.serializers import ExportedMonitorSerializer, exported_definitions
from monitors.models import Monitor

MAX_IMPORT_BYTES = 5 * 1024 * 1024


class ImportForm(forms.Form):
    """Monitors to import, uploaded or pasted, in the export's format (a JSON array)."""

    MODES = (
        ("append", "Add to the existing monitors"),
        ("replace", "Replace every monitor (existing monitors and their results are deleted)"),
    )

    file = forms.FileField(required=False, label="JSON file", help_text="A file saved with Export.")
    text = forms.CharField(
        required=False,
        strip=False,
        label="Or paste JSON",
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
    )
    mode = forms.ChoiceField(choices=MODES, initial="append", widget=forms.RadioSelect)

    def clean(self) -> dict[str, object]:
        data = super().clean()
        upload = data.get("file")
        if upload is not None:
            if upload.size > MAX_IMPORT_BYTES:
                self.add_error("file", f"the file is larger than {MAX_IMPORT_BYTES // 1048576} MB")
                return data
            raw = upload.read()
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                self.add_error("file", "the file is not UTF-8 text")
                return data
            field_name = "file"
        else:
            text = data.get("text") or ""
            field_name = "text"
        if not text.strip():
            self.add_error("text", "choose a file or paste the JSON of an export")
            return data
        try:
            items = json.loads(text)
        except (ValueError, RecursionError) as error:
            self.add_error(field_name, f"not valid JSON: {error}")
            return data
        if not isinstance(items, list):
            self.add_error(field_name, "the JSON must be an array of monitors, as Export writes")
            return data
        try:
            data["definitions"] = exported_definitions(items)
        except ApiValidationError as error:
            self.add_error(field_name, first_message(error.detail))
        return data

    def definitions_json(self) -> str:
        """The validated definitions in the export's format, for the confirmation step."""
        return json.dumps(
            [
                ExportedMonitorSerializer(
                    Monitor(**definition), context={"reveal_secrets": True}
                ).data
                for definition in self.cleaned_data["definitions"]
            ],
            ensure_ascii=False,
        )
