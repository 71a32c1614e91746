"""Turns an AST into a Python closure that evaluates it over a variables mapping.

Building the closures once per rule (``build``) keeps the per-run work to plain calls: no node
dispatch, literal regexes already compiled, constants captured.

Semantics follow govaluate:

* numbers are float64; ``/`` and ``%`` by zero, overflow and domain errors give ±Inf or NaN
  as Go's float arithmetic and ``math`` package do, never an error;
* ``+`` concatenates (formatting the other side like Go's ``%v``) when either side is a string;
* ``< <= > >=`` take two numbers or two strings; ``==`` / ``!=`` never fail (different types
  are simply not equal);
* ``&&`` ``||`` ``!`` and the ternary condition need bools; ``&&``, ``||``, ``??`` and ``?:``
  short-circuit, so ``false && missing`` is ``false`` without looking ``missing`` up;
* bitwise operators work on the numbers truncated to int64;
* ``=~`` / ``!~`` search (unanchored) with RE2, Go's own syntax and linear-time matching
  (``lib.regex``): no backreferences or lookaround, whatever the pattern and the text;
* ``IN`` needs an array on its right and compares elements with ``==``.

Every failure is a ``RuleEvalError``.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from typing import Any

from lib.regex import Regex, RegexError, compile_regex
from monitors.rules.errors import RuleEvalError
from monitors.rules.parser import Array, Binary, Literal, Node, Pattern, Ternary, Unary, Variable
from monitors.rules.values import describe, format_value, values_equal

Variables = Mapping[str, object]
Evaluator = Callable[[Variables], object]
_Operator = Callable[[object, object], object]  # a binary operator without short-circuit
_Step = Callable[[object, Variables], object]  # folds one operator onto the value so far

_INT64_MIN = -(2**63)
_UINT64_MASK = 2**64 - 1


def build(node: Node) -> Evaluator:
    """The evaluator for ``node``. Raises ``RuleEvalError`` only while evaluating."""
    if isinstance(node, Literal | Pattern):
        constant = node.value if isinstance(node, Literal) else node.regex
        return lambda variables: constant
    if isinstance(node, Variable):
        return _variable(node.name)
    if isinstance(node, Array):
        items = tuple(build(item) for item in node.items)
        return lambda variables: [item(variables) for item in items]
    if isinstance(node, Unary):
        return _unary(node.op, build(node.operand))
    if isinstance(node, Ternary):
        return _ternary(build(node.condition), build(node.if_true), build(node.if_false))
    return _binary(node)


# -- leaves ----------------------------------------------------------------------------------


def _variable(name: str) -> Evaluator:
    def load(variables: Variables) -> object:
        try:
            value = variables[name]
        except KeyError:
            raise RuleEvalError(f"no parameter '{name}' found") from None
        kind = type(value)
        if kind is float or kind is str or kind is bool or value is None:
            return value
        return _normalise(name, value)

    return load


def _normalise(name: str, value: object) -> object:
    """Bring a variable's value into the language's types: every number becomes a float."""
    if isinstance(value, int):  # bool was handled by the caller; int subclasses land here
        try:
            return float(value)
        except OverflowError:
            raise RuleEvalError(f"parameter '{name}' is too large for a number") from None
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    raise RuleEvalError(f"parameter '{name}' has an unsupported type ({type(value).__name__})")


# -- prefix and ternary ----------------------------------------------------------------------


def _unary(op: str, operand: Evaluator) -> Evaluator:
    if op == "!":

        def invert(variables: Variables) -> object:
            value = operand(variables)
            if type(value) is not bool:
                raise _type_error(value, "prefix", "!", "a bool")
            return not value

        return invert

    def numeric(variables: Variables) -> object:
        value = operand(variables)
        if type(value) is not float:
            raise _type_error(value, "prefix", op, "a number")
        return -value if op == "-" else float(~_to_int64(value))

    return numeric


def _ternary(condition: Evaluator, if_true: Evaluator, if_false: Evaluator) -> Evaluator:
    def choose(variables: Variables) -> object:
        value = condition(variables)
        if value is True:
            return if_true(variables)
        if value is False:
            return if_false(variables)
        raise _type_error(value, "ternary operator", "?", "a bool")

    return choose


# -- binary operators ------------------------------------------------------------------------


def _binary(node: Binary) -> Evaluator:
    # A left-associative chain (a + b - c, a || b || c ...) is a left-deep tree: walk its left
    # spine in a loop and fold the steps, so a long chain costs no recursion when building or
    # evaluating (the parser only limits nesting, not chain length).
    steps: list[_Step] = []
    current: Node = node
    while isinstance(current, Binary):
        steps.append(_step(current.op, build(current.right)))
        current = current.left
    steps.reverse()
    first = build(current)
    if len(steps) == 1:
        (step,) = steps
        return lambda variables: step(first(variables), variables)

    def fold(variables: Variables) -> object:
        value = first(variables)
        for step in steps:
            value = step(value, variables)
        return value

    return fold


def _step(op: str, right: Evaluator) -> _Step:
    if op == "&&" or op == "||":
        return _logical_step(op, right)
    if op == "??":
        return lambda left, variables: left if left is not None else right(variables)
    apply = _OPERATORS[op]
    return lambda left, variables: apply(left, right(variables))


def _logical_step(op: str, right: Evaluator) -> _Step:
    # The value that decides the outcome on its own: false for &&, true for ||.
    deciding = op == "||"

    def apply(left: object, variables: Variables) -> object:
        if type(left) is not bool:
            raise _type_error(left, "logical operator", op, "a bool")
        if left is deciding:
            return left
        value = right(variables)
        if type(value) is not bool:
            raise _type_error(value, "logical operator", op, "a bool")
        return value

    return apply


def _arithmetic(op: str, function: Callable[[float, float], float]) -> _Operator:
    def apply(left: object, right: object) -> object:
        if not isinstance(left, float):
            raise _type_error(left, "modifier", op, "a number")
        if not isinstance(right, float):
            raise _type_error(right, "modifier", op, "a number")
        return function(left, right)

    return apply


def _add(left: object, right: object) -> object:
    if isinstance(left, float) and isinstance(right, float):
        return left + right
    if isinstance(left, str) or isinstance(right, str):
        return format_value(left) + format_value(right)
    raise _type_error(right if isinstance(left, float) else left, "modifier", "+", "a number")


def _ordering(op: str, compare: Callable[[Any, Any], bool]) -> _Operator:
    def apply(left: object, right: object) -> object:
        kind = type(left)
        if kind is type(right) and (kind is float or kind is str):
            return compare(left, right)
        # Name the operand that is out of place: next to a number it is the one that is not a
        # number, else the one that is not a string.
        if kind is float or type(right) is float:
            culprit, expected = (right if kind is float else left), "a number"
        elif kind is str or type(right) is str:
            culprit, expected = (right if kind is str else left), "a string"
        else:
            culprit, expected = left, "a number"
        raise _type_error(culprit, "comparator", op, expected)

    return apply


def _regex(op: str) -> _Operator:
    negate = op == "!~"

    def apply(subject: object, pattern: object) -> object:
        if not isinstance(subject, str):
            raise _type_error(subject, "comparator", op, "a string")
        if isinstance(pattern, str):
            pattern = _compile_regex(pattern)
        elif not isinstance(pattern, Regex):
            raise _type_error(pattern, "comparator", op, "a string")
        return pattern.search(subject) is not negate

    return apply


def _compile_regex(source: str) -> Regex:
    # compile_regex caches compiled patterns, so a pattern held in a variable is not
    # recompiled on every run.
    try:
        return compile_regex(source, capture=False)
    except RegexError as error:
        raise RuleEvalError(f"invalid regular expression '{describe(source)}': {error}") from None


def _contains(needle: object, haystack: object) -> object:
    if not isinstance(haystack, list):
        raise _type_error(haystack, "comparator", "IN", "an array")
    return any(values_equal(needle, item) for item in haystack)


def _divide(left: float, right: float) -> float:
    if right == 0:
        if left == 0 or math.isnan(left):
            return math.nan
        return math.copysign(math.inf, left) * math.copysign(1.0, right)
    return left / right


def _modulo(left: float, right: float) -> float:
    try:
        return math.fmod(left, right)
    except ValueError:  # x % 0 and Inf % y: Go's math.Mod returns NaN
        return math.nan


def _power(base: float, exponent: float) -> float:
    odd_integer = exponent % 2 == 1  # false for non-integers, NaN and infinities
    try:
        return math.pow(base, exponent)
    except OverflowError:
        negative = base < 0 and odd_integer
    except ValueError:
        if base != 0:  # negative base, fractional exponent
            return math.nan
        negative = math.copysign(1.0, base) < 0 and odd_integer  # 0 ** negative
    return -math.inf if negative else math.inf


def _to_int64(number: float) -> int:
    """Go's int64(f): truncation; NaN, infinities and out-of-range values give the minimum
    int64, as on amd64."""
    if math.isnan(number) or math.isinf(number):
        return _INT64_MIN
    value = int(number)
    return value if _INT64_MIN <= value < -_INT64_MIN else _INT64_MIN


def _wrap_int64(value: int) -> float:
    value &= _UINT64_MASK
    return float(value - 2**64 if value >= 2**63 else value)


def _shift_left(left: float, right: float) -> float:
    count = _to_int64(right)
    if count < 0:
        raise RuleEvalError(f"negative shift count '{describe(right)}'")
    return 0.0 if count >= 64 else _wrap_int64(_to_int64(left) << count)


def _shift_right(left: float, right: float) -> float:
    count = _to_int64(right)
    if count < 0:
        raise RuleEvalError(f"negative shift count '{describe(right)}'")
    return float(_to_int64(left) >> min(count, 63))  # arithmetic shift, as for Go's int64


_OPERATORS: dict[str, _Operator] = {
    "==": values_equal,
    "!=": lambda left, right: not values_equal(left, right),
    ">": _ordering(">", operator.gt),
    ">=": _ordering(">=", operator.ge),
    "<": _ordering("<", operator.lt),
    "<=": _ordering("<=", operator.le),
    "=~": _regex("=~"),
    "!~": _regex("!~"),
    "IN": _contains,
    "+": _add,
    "-": _arithmetic("-", lambda left, right: left - right),
    "*": _arithmetic("*", lambda left, right: left * right),
    "/": _arithmetic("/", _divide),
    "%": _arithmetic("%", _modulo),
    "**": _arithmetic("**", _power),
    "&": _arithmetic("&", lambda left, right: float(_to_int64(left) & _to_int64(right))),
    "|": _arithmetic("|", lambda left, right: float(_to_int64(left) | _to_int64(right))),
    "^": _arithmetic("^", lambda left, right: float(_to_int64(left) ^ _to_int64(right))),
    "<<": _arithmetic("<<", _shift_left),
    ">>": _arithmetic(">>", _shift_right),
}


def _type_error(value: object, role: str, op: str, expected: str) -> RuleEvalError:
    return RuleEvalError(
        f"value '{describe(value)}' cannot be used with the {role} '{op}', it is not {expected}"
    )
