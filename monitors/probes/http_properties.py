"""The ``http`` type's property parsers (``method``, ``headers``, ``bodyRegex``, ``userAgent``):
each raises ``ValueError`` with a short reason. Part of ``monitors.probes.http``, whose
docstring holds the contract; plain Python, no Django.
"""

from __future__ import annotations

import json
import re

from lib.regex import Regex, compile_regex

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 token: method, header name
_LINE_BREAK = re.compile(r"[\r\n\x00]")


def parse_method(text: str) -> str:
    """An HTTP method token, uppercased (``get`` -> ``GET``)."""
    method = text.strip()
    if not _TOKEN.fullmatch(method):
        raise ValueError(f"must be an HTTP method such as GET or POST, got {text!r}")
    return method.upper()


def parse_headers(text: str) -> dict[str, str]:
    """A JSON object of header name -> value strings, e.g. ``{"Accept": "text/html"}``.

    Messages never quote values: this property may hold an Authorization secret.
    """
    problem = "must be a JSON object of strings"
    try:
        decoded = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{problem} (invalid JSON: {error.msg} at char {error.pos})") from None
    if not isinstance(decoded, dict):
        raise ValueError(f"{problem}, got a JSON {type(decoded).__name__}")
    headers: dict[str, str] = {}
    for name, value in decoded.items():
        if not isinstance(value, str):
            raise ValueError(f"{problem}: the value of {name!r} is not a string")
        if not _TOKEN.fullmatch(name):
            raise ValueError(f"{problem}: {name!r} is not a valid header name")
        if _LINE_BREAK.search(value):
            raise ValueError(f"{problem}: the value of {name!r} contains a line break")
        headers[name] = value
    return headers


def parse_body_regex(text: str) -> Regex:
    """An RE2 (Go syntax) regular expression, compiled (and cached) at parse time."""
    try:
        return compile_regex(text)
    except ValueError as error:  # RegexError: bad syntax or over a limit
        raise ValueError(f"invalid regular expression: {error}") from None


def parse_user_agent(text: str) -> str:
    """Any single-line string."""
    if _LINE_BREAK.search(text):
        raise ValueError("must not contain a line break")
    return text
