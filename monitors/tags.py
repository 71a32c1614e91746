"""A monitor's group and tags: how they are written and checked, in one place for the API,
the form, imports and backups.

* ``group``: NanoMon upstream's optional group, up to 100 characters of plain text (no line
  breaks); the pages show each group as a section. Empty: no group.
* ``tags``: up to ``MAX_TAGS`` labels, each 1 to 40 of letters, digits and ``_ . : / -``,
  starting with a letter or a digit (``prod``, ``team:db``, ``eu-west/1``); stored sorted and
  without repeats, compared as written (``Prod`` and ``prod`` are two tags).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MAX_TAGS = 20
MAX_GROUP = 100
TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/-]{0,39}")
TAG_RULE = "1 to 40 letters, digits or _ . : / -, starting with a letter or a digit"


def tags_normalized(value: object) -> list[str]:
    """``value`` (a list of strings, or one string of tags separated by commas or spaces, as a
    form sends them) as stored: sorted, without repeats; ``ValueError`` saying what is wrong."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        items: Iterable[object] = [part for part in re.split(r"[,\s]+", value) if part]
    elif isinstance(value, list | tuple):
        items = value
    else:
        raise ValueError("tags must be a list of strings")
    tags = set()
    for item in items:
        if not isinstance(item, str):
            raise ValueError("tags must be a list of strings")
        if not TAG.fullmatch(item):
            raise ValueError(f"tag {item[:50]!r} is not valid: {TAG_RULE}")
        tags.add(item)
    if len(tags) > MAX_TAGS:
        raise ValueError(f"at most {MAX_TAGS} tags, got {len(tags)}")
    return sorted(tags)


def group_problem(group: str) -> str | None:
    """Why ``group`` cannot be stored, or None."""
    if len(group) > MAX_GROUP:
        return f"group must be at most {MAX_GROUP} characters"
    if any(character in group for character in "\r\n\t\x00"):
        return "group must be one line of text"
    return None


def tag_filter_text(tag: str) -> str:
    """What a monitor's stored tags, as JSON text, contain when they hold ``tag`` (the quotes
    included: ``"prod"`` is not found in ``"prod-eu"``)."""
    return f'"{tag}"'
