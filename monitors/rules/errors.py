"""The exceptions of the rule language (re-exported by ``monitors.rules``)."""

from __future__ import annotations

import re


class RuleError(Exception):
    """Base of every error the rule language raises."""


class RuleSyntaxError(RuleError):
    """The rule text is not a valid expression; the message names the position (0-based)."""


class RuleEvalError(RuleError):
    """A valid rule could not be evaluated over the given variables (missing name, wrong type,
    invalid regular expression from a variable, ...)."""


# re.compile raises more than re.error on pathological patterns (deep nesting, huge repeat
# counts; FutureWarning only when warnings are errors); all of them mean "not a usable pattern".
REGEX_COMPILE_ERRORS = (re.error, RecursionError, OverflowError, ValueError, FutureWarning)


def regex_error_reason(error: Exception) -> str:
    """Why ``re.compile`` refused a pattern, without ``re``'s own "at position" (which counts
    within the pattern, not the rule, and would read as a second position)."""
    if isinstance(error, re.error):
        return error.msg
    if isinstance(error, RecursionError):
        return "pattern nested too deeply"
    return str(error)
