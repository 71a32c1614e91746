"""The admin page's import form (web/forms/imports.py), checked as the API's import is."""

from __future__ import annotations

import json

import pytest

from web.forms.imports import ImportForm


@pytest.mark.parametrize(
    ("element", "message"),
    [
        ({"name": "", "type": "tcp", "interval": "1m"}, "monitor 2: missing monitor name"),
        ({"name": "b", "type": "tcp", "interval": "1m", "enabled": 1}, "monitor 2: enabled: must"),
        ("not a monitor", "monitor 2: Invalid data. Expected a dictionary"),
    ],
)
def test_the_import_form_names_the_first_bad_element_as_the_api_does(db, element, message):
    good = {"name": "a", "type": "tcp", "interval": "1m", "target": "127.0.0.1:9"}
    form = ImportForm({"text": json.dumps([good, element]), "mode": "append"})

    assert not form.is_valid()
    assert form.errors["text"][0].startswith(message)
    assert "definitions" not in form.cleaned_data
