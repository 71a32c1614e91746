"""The one reading of the results cursor (``nanomon.api.params.cursor``), used by the results
API and the pages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from rest_framework.exceptions import ValidationError

from nanomon.api import params


def test_the_cursor_is_before_and_before_id_each_none_when_absent():
    assert params.cursor({}) == (None, None)
    assert params.cursor({"before": "", "before_id": ""}) == (None, None)
    assert params.cursor({"before": "2026-01-01T12:00:00Z", "before_id": "7"}) == (
        datetime(2026, 1, 1, 12, tzinfo=UTC),
        7,
    )
    # Without an offset a date is UTC; before alone is a cursor too.
    assert params.cursor({"before": "2026-01-01T12:00:00"}) == (
        datetime(2026, 1, 1, 12, tzinfo=UTC),
        None,
    )


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ({"before": "nope", "before_id": "1"}, "before must be an RFC 3339 date"),
        ({"before": "2026-01-01T00:00:00Z", "before_id": "x"}, "before_id must be a positive"),
        ({"before_id": "0"}, "before_id must be a positive integer"),
    ],
)
def test_a_bad_cursor_raises_a_validation_error_saying_which_part(query, detail):
    with pytest.raises(ValidationError) as raised:
        params.cursor(query)
    assert str(raised.value.detail[0]).startswith(detail)
