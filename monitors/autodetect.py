"""A monitor without a type: the target decides it (gosrvmon), in one place for every entry point.

gosrvmon had no type field: ``http://…``/``https://…`` was an HTTP check, ``host:port`` a TCP
check and a bare host a ping (``monitors.targets.detect_kind`` holds those rules and their
edge cases). Here the type may be left out (empty, ``null`` or absent in the API and imports,
"Decide from the target" on the form, an empty type in a one-off check) and
``decide_kind`` fills it in before the definition is checked, so the checks and their messages
are the ones a typed monitor gets.

gosrvmon also judged an HTTP answer by its status: up only on 2xx or 3xx. An HTTP monitor whose
type was decided here and that has no rule gets that as its rule, ``AUTO_HTTP_RULE``; a rule
that is given is kept. (A typed http monitor keeps NanoMon's meaning: without a rule any
answer is Good.)

A target that decides nothing (empty, blanks, ``ftp://…``, ``[::1]`` without a port) leaves
the type empty, and the definition is refused with NanoMon's ``missing monitor type``.

Plain data in and out; no Django.
"""

from __future__ import annotations

from monitors.targets import detect_kind

# gosrvmon's HTTP up condition (2xx or 3xx) in the rule language, over http's ``status``.
AUTO_HTTP_RULE = "status >= 200 && status < 400"


def decide_kind(kind: str, target: str, rule: str) -> tuple[str, str]:
    """``(kind, rule)`` for a definition: unchanged when ``kind`` is given; else the kind
    ``target`` decides, with ``AUTO_HTTP_RULE`` for http when ``rule`` is empty. A target
    that decides nothing gives ``("", rule)`` (refused later as ``missing monitor type``)."""
    if kind:
        return kind, rule
    try:
        detected = detect_kind(target)
    except ValueError:
        return "", rule
    if detected == "http" and not rule:
        return detected, AUTO_HTTP_RULE
    return detected, rule


def why_undecided(target: str) -> str | None:
    """Why ``target`` decides no type (``detect_kind``'s reason), or None when it decides one."""
    try:
        detect_kind(target)
    except ValueError as error:
        return str(error)
    return None
