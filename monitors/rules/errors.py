"""The exceptions of the rule language (re-exported by ``monitors.rules``)."""

from __future__ import annotations


class RuleError(Exception):
    """Base of every error the rule language raises."""


class RuleSyntaxError(RuleError):
    """The rule text is not a valid expression; the message names the position (0-based)."""


class RuleEvalError(RuleError):
    """A valid rule could not be evaluated over the given variables (missing name, wrong type,
    invalid regular expression from a variable, ...)."""
