"""The API's only request parser: JSON, hardened so that no body of any shape causes a 500."""

from __future__ import annotations

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser (strict: no NaN/Infinity), plus a clean 400 for nesting so deep that
    Python's decoder gives up with ``RecursionError`` instead of ``ValueError``."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply") from None
