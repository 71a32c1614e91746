"""The rule language: a monitor's boolean expression over a probe run's outputs.

The syntax and semantics are those of the Go library govaluate (github.com/Knetic/govaluate),
which the rules were first written for::

    status >= 200 && status < 300
    '93.184.215.14' IN (result1, result2)
    body =~ 'some words'

``compile_rule(text)`` parses once (results are cached, since every run of a monitor
compiles the same text) and returns a ``Rule``; ``rule.evaluate(outputs)`` computes its value.
A hand-written lexer (``lexer``), a precedence-climbing parser to an AST (``parser``) and
closures built from that AST (``evaluator``), all standard library but for the regular
expressions of ``=~`` / ``!~``: RE2, linear time (``lib.regex``). Nothing is ever
``eval``-ed.

Error contract, for any input whatsoever:

* ``compile_rule`` raises only ``RuleSyntaxError`` (empty or over-long text, a bad token, a
  misplaced operator, nesting deeper than 100 levels, an invalid constant regex);
* ``Rule.evaluate`` raises only ``RuleEvalError`` for a mapping whose values are ``float``,
  ``int``, ``str``, ``bool`` or ``None`` (unknown variable, wrong operand type, invalid regex
  held in a variable). The result may be any language value (bool, float, str, list, None);
  deciding that a non-bool verdict is wrong is the caller's business.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field

from monitors.rules.errors import RuleError, RuleEvalError, RuleSyntaxError
from monitors.rules.evaluator import Evaluator, build
from monitors.rules.parser import Node, parse

__all__ = ["Rule", "RuleError", "RuleEvalError", "RuleSyntaxError", "compile_rule"]

MAX_RULE_LENGTH = 4096


@dataclass(frozen=True, slots=True, eq=False)
class Rule:
    """A compiled rule. Immutable, so one instance is safely shared across runs and threads."""

    text: str
    expression: Node = field(repr=False)  # the AST, for tooling and tests
    variables: frozenset[str] = field(repr=False)  # every variable name the rule references
    _evaluate: Evaluator = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_evaluate", build(self.expression))

    def evaluate(self, variables: Mapping[str, object]) -> object:
        """The rule's value over ``variables`` (output name -> value). Names are looked up
        only when evaluation reaches them, so ``false && missing`` is simply ``false``."""
        try:
            return self._evaluate(variables)
        except RecursionError:
            # Only if the caller is already deep in its own stack: the parser bounds nesting.
            raise RuleEvalError("rule nested too deeply to evaluate here") from None


@functools.lru_cache(maxsize=4096)
def compile_rule(text: str) -> Rule:
    """Parse ``text`` into a ``Rule``; raises ``RuleSyntaxError`` (only) when it is invalid."""
    if len(text) > MAX_RULE_LENGTH:
        raise RuleSyntaxError(
            f"expression too long ({len(text)} characters, at most {MAX_RULE_LENGTH})"
        )
    try:
        expression, variables = parse(text)
        return Rule(text, expression, variables)
    except RecursionError:
        raise RuleSyntaxError("expression nested too deeply") from None
