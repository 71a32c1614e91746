"""Regular expressions that users write: Go's RE2 syntax, matched in linear time.

Every pattern a user supplies (a rule's ``=~`` / ``!~``, the http probe's ``bodyRegex``) is
compiled by ``compile_regex`` and matched with ``Regex.search`` / ``Regex.first_group``, never
with Python's ``re``. Matching uses RE2 (the ``google-re2`` package), the engine Go's
``regexp`` follows: no backtracking, so the time is linear in the text whatever the pattern,
and ``(a+)+$`` against 40 ``a``s and a ``!`` takes microseconds instead of hours. RE2 also
releases the GIL while it matches, so a long match never freezes the other threads.

Syntax is RE2's, which is Go's: what Python's ``re`` has and they lack is refused with a
message saying so (backreferences ``\\1``, lookahead/lookbehind ``(?=`` ``(?!`` ``(?<=``
``(?<!``, ``\\Z``: write ``\\z``; possessive and atomic groups). ``\\d``, ``\\w``, ``\\s`` and
``\\b`` are ASCII-only, as in Go; ``$`` matches only at the very end (not before a final
newline) unless ``(?m)``. ``\\C`` (any byte), which RE2 has and Go does not, is refused.

Limits, checked when a pattern is compiled (so on save, import and test as well as at run):

* ``MAX_PATTERN_LENGTH`` characters;
* ``MAX_NESTING_DEPTH`` levels of parentheses;
* ``MAX_PROGRAM_SIZE`` instructions of the compiled RE2 program. Linear time is per byte of
  text times the program's size in the worst case (RE2 falls back from its DFA to an NFA for
  patterns whose DFA would explode), so this caps the cost of one byte;
* ``MAX_MEMORY`` bytes per pattern (RE2's ``max_mem``: the program plus its DFA caches; a
  program that does not fit is "too large"). RE2's default, kept: a smaller budget makes the
  DFA give up sooner, and a pattern such as ``.{1000}!`` then takes seconds per MiB.

Compiled patterns are cached (``CACHE_SIZE`` of them, least recently used dropped), so a rule
or monitor that runs every second compiles its pattern once per process.

Matching under a deadline: ``run_bounded`` runs a function (a match, a rule that matches) on a
thread of its own and waits for it at most a given time, so a check ends on time even when a
hostile pattern and text make a linear-time match slow (about 10 ns per byte per active NFA
state: seconds for a MiB with a thousand states). RE2 cannot be interrupted: an overrunning
match finishes on its thread, and until it does every new call with the same key (the
pattern, or the rule) fails at once instead of starting another one.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import re2

MAX_PATTERN_LENGTH = 2048
MAX_NESTING_DEPTH = 100
MAX_PROGRAM_SIZE = 10_000
MAX_MEMORY = 8 << 20
CACHE_SIZE = 256

_T = TypeVar("_T")

# Error texts RE2 gives for what Python's re (or PCRE) has and RE2/Go lack, and what to say.
_UNSUPPORTED_HINTS = (
    ("invalid perl operator: (?=", "lookahead is not supported"),
    ("invalid perl operator: (?!", "lookahead is not supported"),
    ("invalid perl operator: (?<=", "lookbehind is not supported"),
    ("invalid perl operator: (?<!", "lookbehind is not supported"),
    ("invalid perl operator: (?>", "atomic groups are not supported"),
    ("invalid escape sequence: \\Z", "write \\z for the end of the text"),
    ("bad repetition operator: *+", "possessive repetitions are not supported"),
    ("bad repetition operator: ++", "possessive repetitions are not supported"),
    ("bad repetition operator: ?+", "possessive repetitions are not supported"),
)
_BACKREFERENCE_PREFIX = "invalid escape sequence: \\"


class RegexError(ValueError):
    """A pattern that is not valid RE2 (Go) syntax or is over a limit; the text says why,
    without naming the pattern (callers add where it came from)."""


class MatchTimeout(Exception):
    """``run_bounded`` gave up waiting: the call overran, or (``still_running``) it was not
    started because an earlier call with the same key overran and is still running."""

    def __init__(self, *, still_running: bool) -> None:
        super().__init__(
            "an earlier match is still running past its deadline"
            if still_running
            else "did not finish in time"
        )
        self.still_running = still_running


@dataclass(frozen=True, slots=True, eq=False)
class Regex:
    """A compiled pattern. Immutable and thread-safe: one instance serves every run."""

    source: str
    capture: bool  # False: compiled without groups (enough to answer "does it match?")
    _compiled: Any = field(repr=False)

    @property
    def groups(self) -> int:
        return int(self._compiled.groups)

    def search(self, text: str) -> bool:
        """Whether the pattern matches anywhere in ``text`` (an unanchored search)."""
        return self._compiled.search(_utf8(text)) is not None

    def first_group(self, text: str) -> str | None:
        """Group 1 of the first match, or the whole match when the pattern has no group;
        ``""`` for a group that did not take part (as Go's ``FindStringSubmatch``); ``None``
        when nothing matches."""
        match = self._compiled.search(_utf8(text))
        if match is None:
            return None
        found = match.group(1) if self._compiled.groups else match.group(0)
        return "" if found is None else found.decode("utf-8", "surrogatepass")

    def __str__(self) -> str:  # how the rule language prints a pattern value
        return self.source


def compile_regex(source: str, *, capture: bool = True) -> Regex:
    """``source`` compiled as RE2; raises ``RegexError`` when it is invalid or over a limit.

    ``capture=False`` drops the groups: a pattern only asked whether it matches (the rules'
    ``=~`` / ``!~``) then runs on RE2's DFA alone (its fastest path) unless the DFA gives up.
    """
    if not isinstance(source, str):
        raise RegexError(f"pattern must be a string, got {type(source).__name__}")
    if len(source) > MAX_PATTERN_LENGTH:
        raise RegexError(f"too long ({len(source)} characters, at most {MAX_PATTERN_LENGTH})")
    return _compile(source, capture)


@functools.lru_cache(maxsize=CACHE_SIZE)
def _compile(source: str, capture: bool) -> Regex:
    _check_structure(source)
    options = re2.Options()
    options.max_mem = MAX_MEMORY
    options.log_errors = False  # RE2 would print every refused pattern on stderr
    options.never_capture = not capture
    try:
        compiled = re2.compile(source, options)
    except re2.error as error:
        raise RegexError(_reason(error)) from None
    size = compiled._regexp.ProgramSize()  # the wrapper's RE2 object: no public accessor
    if size > MAX_PROGRAM_SIZE:
        raise RegexError(
            f"too large once compiled ({size} instructions, at most {MAX_PROGRAM_SIZE}): "
            "use fewer or smaller repetitions such as {n}"
        )
    return Regex(source, capture, compiled)


def _check_structure(source: str) -> None:
    """Refuse nesting over ``MAX_NESTING_DEPTH`` and ``\\C``. RE2 checks the rest of the
    syntax; this only needs to know where escapes, ``\\Q…\\E`` and character classes are, so
    that their parentheses are not counted."""
    depth = 0
    index, end = 0, len(source)
    in_class = False
    while index < end:
        char = source[index]
        if char == "\\":
            following = source[index + 1 : index + 2]
            if following == "Q" and not in_class:  # literal text up to \E (or the end)
                close = source.find("\\E", index + 2)
                index = end if close < 0 else close + 2
                continue
            if following == "C":
                raise RegexError("invalid escape sequence: \\C (any single byte is not supported)")
            index += 2
            continue
        if in_class:
            if source.startswith("[:", index) and (close := source.find(":]", index + 2)) >= 0:
                index = close + 2  # [:alpha:] inside a class
                continue
            in_class = char != "]"
            index += 1
            continue
        if char == "[":
            in_class = True
            index += 1
            if source.startswith("^", index):
                index += 1
            if source.startswith("]", index):  # a ] first in a class is a literal
                index += 1
            continue
        if char == "(":
            depth += 1
            if depth > MAX_NESTING_DEPTH:
                raise RegexError(
                    f"nested too deeply (more than {MAX_NESTING_DEPTH} levels of parentheses)"
                )
        elif char == ")":
            depth = max(0, depth - 1)
        index += 1


def _reason(error: Exception) -> str:
    raw = error.args[0] if error.args else ""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    if text == "pattern too large - compile failed":
        return (
            f"too large once compiled (over RE2's {MAX_MEMORY >> 20} MiB budget): use fewer "
            "or smaller repetitions such as {n}"
        )
    for prefix, hint in _UNSUPPORTED_HINTS:
        if text.startswith(prefix):
            return f"{text} ({hint}: the syntax is RE2's, as in Go)"
    if text.startswith(_BACKREFERENCE_PREFIX) and text[len(_BACKREFERENCE_PREFIX) :].isdigit():
        return f"{text} (backreferences are not supported: the syntax is RE2's, as in Go)"
    return text or "invalid pattern"


def _utf8(text: str) -> bytes:
    # RE2 matches UTF-8; a lone surrogate (never from a decoded body) is kept, not an error.
    return text.encode("utf-8", "surrogatepass")


# --- Matching under a deadline ------------------------------------------------------------------


class _Call:
    """One ``run_bounded`` call, shared by the waiting coroutine and the worker thread."""

    __slots__ = ("abandoned", "error", "finished", "result")

    def __init__(self) -> None:
        self.finished = False
        self.abandoned = False
        self.result: object = None
        self.error: BaseException | None = None


_lock = threading.Lock()
_overrunning: dict[Hashable, int] = {}  # key -> calls still running after their caller left


def still_running(key: Hashable) -> bool:
    """Whether a call with ``key`` overran its wait and has not finished yet."""
    with _lock:
        return key in _overrunning


async def run_bounded(
    function: Callable[..., _T], *args: object, timeout: float, key: Hashable
) -> _T:
    """``function(*args)`` on a thread of its own, waited for at most ``timeout`` seconds.

    Returns its result or raises its exception. Raises ``MatchTimeout`` when it takes longer
    (it keeps running on its thread until it ends: RE2 cannot be interrupted) and, until such
    an overrunning call with the same ``key`` has ended, at once without starting another.
    The thread is a daemon: an overrunning match never holds up the process's exit.
    """
    with _lock:
        if key in _overrunning:
            raise MatchTimeout(still_running=True)
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    call = _Call()

    def settle() -> None:
        if not done.done():
            done.set_result(None)

    def work() -> None:
        try:
            call.result = function(*args)
        except BaseException as error:  # handed to the caller, as a plain call would raise
            call.error = error
        with _lock:
            call.finished = True
            if call.abandoned:
                _forget(key)
                return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(settle)

    threading.Thread(target=work, name="nanomon-regex", daemon=True).start()
    try:
        async with asyncio.timeout(timeout):
            await done
    except TimeoutError:
        if _abandon(call, key):
            raise MatchTimeout(still_running=False) from None
    except BaseException:  # the caller was cancelled: the thread goes on without it
        _abandon(call, key)
        raise
    if call.error is not None:
        raise call.error
    return call.result  # type: ignore[return-value]


def _abandon(call: _Call, key: Hashable) -> bool:
    """Mark ``call`` as left behind unless it has finished; True when it was left."""
    with _lock:
        if call.finished:
            return False
        call.abandoned = True
        _overrunning[key] = _overrunning.get(key, 0) + 1
        return True


def _forget(key: Hashable) -> None:
    # Called with _lock held.
    remaining = _overrunning.get(key, 0) - 1
    if remaining > 0:
        _overrunning[key] = remaining
    else:
        _overrunning.pop(key, None)
