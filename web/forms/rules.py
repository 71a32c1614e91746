"""The rule checker behind "checked as you type" on the monitor form (``/monitors/rule-check``):
the check a save makes, with where in the rule the error is."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from monitors.probes import REGISTRY
from monitors.rules import RuleSyntaxError, compile_rule
from monitors.rules.lexer import Token, TokenKind, tokenize
from monitors.validation import rule_outputs_problem

_POSITION_IN_MESSAGE = re.compile(r" at position (\d+)")


@dataclass(frozen=True)
class RuleCheck:
    """What the rule checker says about a rule for a type."""

    text: str
    valid: bool
    message: str = ""
    position: int | None = None  # where the error is, 0-based
    length: int = 1  # how many characters the error covers (an unknown output: its name)
    variables: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # variables the type does not output

    @property
    def before_error(self) -> str:
        return self.text[: self.position] if self.position is not None else ""

    @property
    def at_error(self) -> str:
        if self.position is None:
            return ""
        return self.text[self.position : self.position + self.length] or " "

    @property
    def after_error(self) -> str:
        return self.text[self.position + self.length :] if self.position is not None else ""


def check_rule_text(text: str, kind: str) -> RuleCheck:
    """Check ``text`` as the save would for the type ``kind``: it parses, uses only outputs of
    the type and can give a bool; an error points at where it is when that is one place."""
    if not text.strip():
        return RuleCheck(text=text, valid=True)
    try:
        rule = compile_rule(text)
    except RuleSyntaxError as error:
        message = str(error)
        match = _POSITION_IN_MESSAGE.search(message)
        position = int(match.group(1)) if match else None
        if position is not None and position > len(text):
            position = len(text)
        return RuleCheck(
            text=text, valid=False, message=f"rule invalid: {message}", position=position
        )
    variables = sorted(rule.variables)
    probe_type = REGISTRY.get(kind)
    if probe_type is None:  # no type chosen yet: the syntax is all there is to check
        return RuleCheck(text=text, valid=True, variables=variables)
    unknown = [name for name in variables if probe_type.output(name) is None]
    problem = rule_outputs_problem(rule, probe_type)
    if problem is not None:
        token = _first_name(text, set(unknown)) if unknown else None
        return RuleCheck(
            text=text,
            valid=False,
            message=problem,
            position=token.position if token else None,
            length=len(token.source) if token else 1,
            variables=variables,
            unknown=unknown,
        )
    return RuleCheck(text=text, valid=True, variables=variables)


def _first_name(text: str, names: set[str]) -> Token | None:
    """The first variable of ``text`` that is one of ``names``."""
    for token in tokenize(text):
        if token.kind is TokenKind.NAME and token.value in names:
            return token
    return None
