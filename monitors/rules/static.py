"""What a rule can give, worked out from its AST without running it.

A rule must give a bool (``rule didn't return a bool`` fails every run otherwise). Some rules
never can, whatever the outputs: ``status + 1`` is always a number. ``result_kinds`` lists
the kinds of value a node may give (``bool``, ``number``, ``string``, ``array``, ``regex``),
following the evaluator's semantics, so the save can refuse such a rule. It errs on the side of
allowing: a kind is listed whenever some run could give it.
"""

from __future__ import annotations

from collections.abc import Callable

from monitors.rules.parser import Array, Literal, Node, Pattern, Ternary, Unary, Variable

BOOL, NUMBER, STRING, ARRAY, REGEX = "bool", "number", "string", "array", "regex"
ANY = frozenset({BOOL, NUMBER, STRING, ARRAY})

_BOOLEAN_OPERATORS = frozenset({"||", "&&", "==", "!=", ">", ">=", "<", "<=", "=~", "!~", "IN"})


def result_kinds(
    node: Node, variable_kinds: Callable[[str], frozenset[str]] = lambda name: ANY
) -> frozenset[str]:
    """The kinds of value ``node`` may give; ``variable_kinds(name)`` those of a variable."""
    if isinstance(node, Literal):
        if isinstance(node.value, bool):
            return frozenset({BOOL})
        return frozenset({STRING if isinstance(node.value, str) else NUMBER})
    if isinstance(node, Variable):
        return variable_kinds(node.name)
    if isinstance(node, Pattern):
        return frozenset({REGEX})
    if isinstance(node, Array):
        return frozenset({ARRAY})
    if isinstance(node, Unary):
        return frozenset({BOOL if node.op == "!" else NUMBER})
    if isinstance(node, Ternary):
        return result_kinds(node.if_true, variable_kinds) | result_kinds(
            node.if_false, variable_kinds
        )
    # A Binary node.
    if node.op in _BOOLEAN_OPERATORS:
        return frozenset({BOOL})
    if node.op == "??":
        return result_kinds(node.left, variable_kinds) | result_kinds(node.right, variable_kinds)
    if node.op == "+":  # concatenates when either side is a string, else adds numbers
        left = result_kinds(node.left, variable_kinds)
        right = result_kinds(node.right, variable_kinds)
        kinds = set()
        if STRING in left or STRING in right:
            kinds.add(STRING)
        if NUMBER in left and NUMBER in right:
            kinds.add(NUMBER)
        return frozenset(kinds)
    return frozenset({NUMBER})  # every other operator is arithmetic or bitwise


def describe_kinds(kinds: frozenset[str]) -> str:
    """``a number``, ``a number or a string``; ``no value`` when every run fails."""
    words = {
        BOOL: "a bool",
        NUMBER: "a number",
        STRING: "a string",
        ARRAY: "a list",
        REGEX: "a regular expression",
    }
    ordered = [words[kind] for kind in (NUMBER, STRING, ARRAY, REGEX, BOOL) if kind in kinds]
    return " or ".join(ordered) if ordered else "no value (every run would fail)"
