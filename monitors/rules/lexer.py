"""Tokenizer for rule expressions (govaluate syntax).

Token rules:

* numbers are float64: ``12``, ``3.5``, ``.5``, ``1e3``, ``0x1F``. A number glued to a letter,
  digit, ``_`` or ``.`` (``1.2.3``, ``2e``, ``5ms``) is one invalid number, not two tokens.
  Values beyond float64 range are rejected, as Go's ``strconv.ParseFloat`` rejects them.
* strings use single or double quotes; the closing quote must match the opening one.
  ``\\'`` ``\\"`` ``\\\\`` ``\\n`` ``\\r`` ``\\t`` are escapes; any other backslash is kept as
  written, so regular expressions such as ``'\\d+'`` mean what they say.
* names are ``[A-Za-z_][A-Za-z0-9_.]*``, or anything between ``[`` and ``]`` (backslash
  escapes the next character there), so ``[resp-time]`` names the variable ``resp-time``.
* ``true`` and ``false`` are booleans; ``IN`` and ``in`` are the membership operator, exactly
  as govaluate's lexer spells them (other casings are ordinary names).
* operators are matched longest first, so ``a>-1`` is ``a > -1``.

Every error is a ``RuleSyntaxError`` naming the 0-based character position.
"""

from __future__ import annotations

import enum
import math
import re
from dataclasses import dataclass

from monitors.rules.errors import RuleSyntaxError


class TokenKind(enum.Enum):
    NUMBER = "number"
    STRING = "string"
    BOOLEAN = "boolean"
    NAME = "name"
    OPERATOR = "operator"  # also the punctuation ( ) , ? :
    END = "end"


@dataclass(frozen=True, slots=True)
class Token:
    kind: TokenKind
    value: float | str | bool  # NAME: the variable name; OPERATOR: the canonical symbol
    position: int
    source: str  # the text as written, for error messages

    def describe(self) -> str:
        """How error messages refer to this token."""
        if self.kind is TokenKind.END:
            return "end of expression"
        shown = self.source if len(self.source) <= 30 else self.source[:29] + "…"
        return f"token {shown!r}"


# Longest first: the lexer takes the first symbol that matches at the cursor.
OPERATOR_SYMBOLS = (
    "**", "??", "==", "!=", ">=", "<=", "=~", "!~", "&&", "||", "<<", ">>",
    "+", "-", "*", "/", "%", "&", "|", "^", "~", "!", ">", "<", "?", ":", ",", "(", ")",
)  # fmt: skip

_NUMBER = re.compile(r"0[xX][0-9a-fA-F]+|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_NUMBER_TAIL = re.compile(r"[A-Za-z0-9_.]+")
_STRING_ESCAPES = {"'": "'", '"': '"', "\\": "\\", "n": "\n", "r": "\r", "t": "\t"}
_KEYWORDS: dict[str, tuple[TokenKind, str | bool]] = {
    "true": (TokenKind.BOOLEAN, True),
    "false": (TokenKind.BOOLEAN, False),
    "IN": (TokenKind.OPERATOR, "IN"),
    "in": (TokenKind.OPERATOR, "IN"),
}


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens, ending with one ``END`` token at ``len(text)``."""
    tokens: list[Token] = []
    position = 0
    length = len(text)
    while position < length:
        char = text[position]
        if char.isspace():
            position += 1
            continue
        if char.isdigit() or (char == "." and text[position + 1 : position + 2].isdigit()):
            token = _read_number(text, position)
        elif char == "'" or char == '"':
            token = _read_string(text, position)
        elif char == "[":
            token = _read_bracketed_name(text, position)
        elif char.isalpha() or char == "_":
            token = _read_name(text, position)
        else:
            token = _read_operator(text, position)
        tokens.append(token)
        position += len(token.source)
    tokens.append(Token(TokenKind.END, "", length, ""))
    return tokens


def _read_number(text: str, start: int) -> Token:
    match = _NUMBER.match(text, start)  # None for non-ASCII digits, which str.isdigit admits
    end = match.end() if match else start
    tail = _NUMBER_TAIL.match(text, end)
    if match is None or tail is not None:
        source = text[start : tail.end() if tail else start + 1]
        raise RuleSyntaxError(f"invalid number {source!r} at position {start}")
    source = match.group()
    try:
        value = float(int(source, 16)) if source[1:2] in ("x", "X") else float(source)
    except OverflowError:  # a hex literal beyond float range
        value = math.inf
    if math.isinf(value):
        raise RuleSyntaxError(f"number {source!r} at position {start} is out of range")
    return Token(TokenKind.NUMBER, value, start, source)


def _read_string(text: str, start: int) -> Token:
    quote = text[start]
    chunks: list[str] = []
    position = start + 1
    length = len(text)
    while position < length:
        char = text[position]
        if char == quote:
            return Token(TokenKind.STRING, "".join(chunks), start, text[start : position + 1])
        if char == "\\" and position + 1 < length:
            escaped = text[position + 1]
            chunks.append(_STRING_ESCAPES.get(escaped, "\\" + escaped))
            position += 2
            continue
        chunks.append(char)
        position += 1
    raise RuleSyntaxError(f"unterminated string starting at position {start}")


def _read_bracketed_name(text: str, start: int) -> Token:
    chunks: list[str] = []
    position = start + 1
    length = len(text)
    while position < length:
        char = text[position]
        if char == "]":
            if not chunks:
                raise RuleSyntaxError(f"empty variable name '[]' at position {start}")
            return Token(TokenKind.NAME, "".join(chunks), start, text[start : position + 1])
        if char == "\\" and position + 1 < length:
            char = text[position + 1]
            position += 1
        chunks.append(char)
        position += 1
    raise RuleSyntaxError(f"unclosed '[' starting at position {start}")


def _read_name(text: str, start: int) -> Token:
    match = _NAME.match(text, start)
    if match is None:  # a non-ASCII letter: names are ASCII
        raise RuleSyntaxError(f"unexpected character {text[start]!r} at position {start}")
    source = match.group()
    kind, value = _KEYWORDS.get(source, (TokenKind.NAME, source))
    return Token(kind, value, start, source)


def _read_operator(text: str, start: int) -> Token:
    for symbol in OPERATOR_SYMBOLS:
        if text.startswith(symbol, start):
            return Token(TokenKind.OPERATOR, symbol, start, symbol)
    char = text[start]
    hint = " (use '==' to compare)" if char == "=" else ""
    raise RuleSyntaxError(f"unexpected character {char!r} at position {start}{hint}")
