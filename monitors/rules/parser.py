"""Parser for rule expressions: tokens in, an immutable AST out.

Precedence, lowest first, as in govaluate's stage planner::

    ?:  ??          ternary (right-associative) and null coalescence
    ||
    &&
    == != > >= < <= =~ !~ IN
    | ^ &
    << >>
    + -
    * / %
    **              right-associative: 2 ** 3 ** 2 == 512
    ! - ~           prefix, binding tighter than everything: -2 ** 2 == 4

All binary operators except ``**`` are left-associative. Parentheses group; a parenthesised
comma list ``(a, b)`` is an array. The right operand of ``IN`` written in parentheses is always
an array, even with one element: ``x IN (a)``.

A string literal on the right of ``=~`` / ``!~`` is compiled here, once, so an invalid constant
pattern is a syntax error (govaluate does the same in its planner). Patterns are RE2, Go's
syntax, and match in linear time (``lib.regex``, which also sets their size limits).

A limit keeps any input from exhausting the stack: nesting deeper than ``MAX_DEPTH`` levels is
a ``RuleSyntaxError``. Every parenthesis, ternary branch and prefix operator is a level, and so
is the right operand of each binary operator, which bounds both this parser's recursion and the
height of the tree the evaluator walks. 100 levels is far beyond any real rule. Long chains of
one precedence level (``a || b || c ...``) add no depth: they are folded in a loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from lib.regex import Regex, RegexError, compile_regex
from monitors.rules.errors import RuleSyntaxError
from monitors.rules.lexer import Token, TokenKind, tokenize

MAX_DEPTH = 100

BINARY_PRECEDENCE = {
    "||": 1,
    "&&": 2,
    **dict.fromkeys(("==", "!=", ">", ">=", "<", "<=", "=~", "!~", "IN"), 3),
    **dict.fromkeys(("|", "^", "&"), 4),
    **dict.fromkeys(("<<", ">>"), 5),
    **dict.fromkeys(("+", "-"), 6),
    **dict.fromkeys(("*", "/", "%"), 7),
    "**": 8,
}
RIGHT_ASSOCIATIVE = frozenset({"**"})
PREFIX_OPERATORS = frozenset({"!", "-", "~"})
REGEX_OPERATORS = frozenset({"=~", "!~"})


@dataclass(frozen=True, slots=True)
class Literal:
    value: float | str | bool


@dataclass(frozen=True, slots=True)
class Variable:
    name: str


@dataclass(frozen=True, slots=True)
class Pattern:
    """A constant regular expression, compiled once at parse time."""

    source: str
    regex: Regex  # compiled without groups: =~ only asks whether it matches


@dataclass(frozen=True, slots=True)
class Array:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Unary:
    op: str
    operand: Node


@dataclass(frozen=True, slots=True)
class Binary:
    """Any two-operand operator, including ``&&``, ``||`` and ``??`` (which short-circuit)."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Ternary:
    condition: Node
    if_true: Node
    if_false: Node


Node = Literal | Variable | Pattern | Array | Unary | Binary | Ternary


class ParseResult(NamedTuple):
    root: Node
    variables: frozenset[str]


def parse(text: str) -> ParseResult:
    """Parse ``text`` into an AST and the set of variable names it references.

    Raises ``RuleSyntaxError`` (and nothing else) for any malformed input.
    """
    return _Parser(tokenize(text)).parse()


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self._tokens = tokens
        self._index = 0
        self._depth = 0
        self._variables: set[str] = set()

    def parse(self) -> ParseResult:
        if self._current.kind is TokenKind.END:
            raise RuleSyntaxError("empty expression")
        root = self._ternary()
        if self._current.kind is not TokenKind.END:
            raise self._unexpected()
        return ParseResult(root, frozenset(self._variables))

    # -- token stream ------------------------------------------------------------------------

    @property
    def _current(self) -> Token:
        return self._tokens[self._index]

    def _advance(self) -> Token:
        token = self._tokens[self._index]
        if token.kind is not TokenKind.END:
            self._index += 1
        return token

    def _at(self, symbol: str) -> bool:
        token = self._tokens[self._index]
        return token.kind is TokenKind.OPERATOR and token.value == symbol

    def _expect(self, symbol: str, opener: Token) -> None:
        if not self._at(symbol):
            raise self._unexpected(
                f"expected {symbol!r} for {opener.source!r} at position {opener.position}"
            )
        self._advance()

    def _unexpected(self, expectation: str = "") -> RuleSyntaxError:
        token = self._current
        suffix = f" ({expectation})" if expectation else ""
        return RuleSyntaxError(
            f"unexpected {token.describe()} at position {token.position}{suffix}"
        )

    def _descend(self) -> None:
        # Called by every construct that recurses (see the module docstring).
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise RuleSyntaxError(
                f"expression nested too deeply at position {self._current.position}"
            )

    # -- grammar -----------------------------------------------------------------------------

    def _ternary(self) -> Node:
        """ternary := binary ('??' binary)* ('?' ternary ':' ternary)?"""
        self._descend()
        node = self._binary(1)
        while self._at("??"):
            self._advance()
            node = Binary("??", node, self._binary(1))
        if self._at("?"):
            question = self._advance()
            if_true = self._ternary()
            self._expect(":", question)
            node = Ternary(node, if_true, self._ternary())
        self._depth -= 1
        return node

    def _binary(self, min_precedence: int) -> Node:
        return self._binary_rest(self._unary(), min_precedence)

    def _binary_rest(self, left: Node, min_precedence: int) -> Node:
        """Precedence climbing: fold operators binding at least ``min_precedence`` onto ``left``."""
        while True:
            token = self._current
            if token.kind is not TokenKind.OPERATOR:
                return left
            op = str(token.value)  # the canonical symbol: 'IN' for both spellings
            precedence = BINARY_PRECEDENCE.get(op)
            if precedence is None or precedence < min_precedence:
                return left
            self._advance()
            next_min = precedence if op in RIGHT_ASSOCIATIVE else precedence + 1
            self._descend()
            operand_token = self._current
            if op == "IN" and self._at("("):
                right: Node = self._binary_rest(self._array(always=True), next_min)
            else:
                right = self._binary(next_min)
            if op in REGEX_OPERATORS and isinstance(right, Literal):
                right = _compile_pattern(right, operand_token)
            self._depth -= 1
            left = Binary(op, left, right)

    def _unary(self) -> Node:
        token = self._current
        if token.kind is TokenKind.OPERATOR and token.value in PREFIX_OPERATORS:
            self._advance()
            self._descend()
            operand = self._unary()
            self._depth -= 1
            return Unary(str(token.value), operand)
        return self._primary()

    def _primary(self) -> Node:
        token = self._current
        kind = token.kind
        if kind is TokenKind.NUMBER or kind is TokenKind.STRING or kind is TokenKind.BOOLEAN:
            self._advance()
            return Literal(token.value)
        if kind is TokenKind.NAME:
            self._advance()
            name = str(token.value)
            self._variables.add(name)
            return Variable(name)
        if self._at("("):
            return self._array(always=False)
        raise self._unexpected()

    def _array(self, *, always: bool) -> Node:
        """``( item, ... )``: an Array when there is a comma (or ``always``), else the item."""
        opener = self._advance()
        items = [self._ternary()]
        while self._at(","):
            self._advance()
            items.append(self._ternary())
        self._expect(")", opener)
        if len(items) == 1 and not always:
            return items[0]
        if len(items) == 1 and isinstance(items[0], Array):
            return items[0]  # x IN ((a, b)) is still membership in (a, b)
        return Array(tuple(items))


def _compile_pattern(literal: Literal, token: Token) -> Node:
    if not isinstance(literal.value, str):
        return literal  # a number or bool: the evaluator reports the type error
    try:
        regex = compile_regex(literal.value, capture=False)
    except RegexError as error:
        raise RuleSyntaxError(
            f"invalid regular expression {literal.value!r} at position {token.position}: {error}"
        ) from None
    return Pattern(literal.value, regex)
