"""The rule language (govaluate syntax): parsing, evaluation and its error contract.

Nothing here touches Django: the rule language is pure Python.
"""

from __future__ import annotations

import contextlib
import math
import re
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitors.rules import Rule, RuleError, RuleEvalError, RuleSyntaxError, compile_rule
from monitors.rules.parser import MAX_DEPTH

INF = math.inf


def evaluate(text: str, **variables: object) -> object:
    return compile_rule(text).evaluate(variables)


def case(text: str, expected: object, **variables: object) -> object:
    """A (text, variables, expected) table row; the rule text doubles as the test id."""
    return pytest.param(text, variables, expected, id=text)


def row(text: str, expected: object) -> object:
    """A (text, expected) table row; the rule text doubles as the test id."""
    return pytest.param(text, expected, id=text)


# -- the examples from the spec --------------------------------------------------------------

HTTP_OK = {"status": 200, "respTime": 120.5}
PING = {"packetLoss": 0, "avgRtt": 12.5}
DNS = {"result1": "93.184.215.14", "result2": "2606:2800:21f:cb07:6820:80da:af6b:8b2c"}


@pytest.mark.parametrize(
    ("text", "variables", "expected"),
    [
        pytest.param("status >= 200 && status < 300", HTTP_OK, True, id="2xx-ok"),
        pytest.param("status >= 200 && status < 300", {"status": 302}, False, id="2xx-redirect"),
        pytest.param("status == 200 && respTime < 5000", HTTP_OK, True, id="status-fast"),
        pytest.param(
            "status == 200 && respTime < 5000", {"status": 200, "respTime": 7000}, False,
            id="status-slow",
        ),
        pytest.param("'93.184.215.14' IN (result1, result2)", DNS, True, id="in-found"),
        pytest.param("'10.0.0.1' IN (result1, result2)", DNS, False, id="in-missing"),
        pytest.param("body =~ 'some words'", {"body": "<p>some words here</p>"}, True, id="re"),
        pytest.param("body =~ 'some words'", {"body": "other text"}, False, id="re-no-match"),
        pytest.param("regexMatch == 'a value'", {"regexMatch": "a value"}, True, id="eq-string"),
        pytest.param("regexMatch == 'a value'", {"regexMatch": "a valu"}, False, id="ne-string"),
        pytest.param("packetLoss == 0 && avgRtt < 50", PING, True, id="ping-ok"),
        pytest.param(
            "packetLoss == 0 && avgRtt < 50", {"packetLoss": 25, "avgRtt": 12.5}, False,
            id="ping-loss",
        ),
        pytest.param("respTime < 100", {"respTime": 99.9}, True, id="fast"),
        pytest.param("respTime < 100", {"respTime": 100}, False, id="not-fast"),
    ],
)  # fmt: skip
def test_it_evaluates_the_examples_from_the_spec(
    text: str, variables: dict[str, object], expected: bool
) -> None:
    assert compile_rule(text).evaluate(variables) is expected


# -- operators -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "variables", "expected"),
    [
        case("1 == 1", True),
        case("1 == 1.0", True),
        case("n == 3", True, n=3),
        case("n != 3", False, n=3),
        case("2 > 1", True),
        case("1 > 1", False),
        case("1 >= 1", True),
        case("1 < 2", True),
        case("2 < 1", False),
        case("2 <= 2", True),
        case("0.1 + 0.2 == 0.3", False),
        case("7 + 3", 10.0),
        case("7 - 10", -3.0),
        case("6 * 7", 42.0),
        case("7 / 2", 3.5),
        case("7 % 3", 1.0),
        case("-7 % 3", -1.0),
        case("7.5 % 2", 1.5),
        case("2 ** 10", 1024.0),
        case("2 ** -1", 0.5),
        case("-x", -4.0, x=4),
        case("--4", 4.0),
        case("!true", False),
        case("!!true", True),
        case("6 & 3", 2.0),
        case("6 | 3", 7.0),
        case("6 ^ 3", 5.0),
        case("~5", -6.0),
        case("1 << 4", 16.0),
        case("-16 >> 2", -4.0),
        case("7.9 & 7.9", 7.0),
        case("true && true", True),
        case("true && false", False),
        case("false || true", True),
        case("false || false", False),
        case("true ? 'yes' : 'no'", "yes"),
        case("false ? 'yes' : 'no'", "no"),
        case("missing ?? 'fallback'", "fallback", missing=None),
        case("present ?? 'fallback'", "here", present="here"),
        case("a ?? b ?? 3", 3.0, a=None, b=None),
        case("(1, 'two', true)", [1.0, "two", True]),
        case("1e3", 1000.0),
        case(".5", 0.5),
        case("1.e2", 100.0),
        case("0x1F", 31.0),
        case("2E-3", 0.002),
    ],
)
def test_it_applies_every_operator(
    text: str, variables: dict[str, object], expected: object
) -> None:
    result = compile_rule(text).evaluate(variables)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        row("1 + 2 * 3 == 7", True),
        row("(1 + 2) * 3 == 9", True),
        row("10 - 4 - 3", 3.0),
        row("2 * 3 % 4", 2.0),
        row("64 / 4 / 2", 8.0),
        row("2 ** 3 ** 2 == 512", True),
        row("-2 ** 2", 4.0),
        row("2 * 3 ** 2", 18.0),
        row("!false && false", False),
        row("true || false && false", True),
        row("(true || false) && false", False),
        row("1 + 1 == 2 && 3 > 2", True),
        row("1 | 2 == 3", True),
        row("1 << 2 + 1", 8.0),
        row("6 & 3 << 1", 6.0),
        row("1 + 2 << 1", 6.0),
        row("1 == 1 == true", True),
        row("true ? 1 : 2 + 10", 1.0),
        row("false ? 1 : 2 + 10", 12.0),
        row("true ? false ? 1 : 2 : 3", 2.0),
        row("false ? 1 : true ? 2 : 3", 2.0),
        row("false ? 1 : false ? 2 : 3", 3.0),
        row("1 > 2 || 2 > 1 ? 'a' : 'b'", "a"),
        row("'x' + 1 + 2", "x12"),
        row("1 + 2 + 'x'", "3x"),
    ],
)
def test_it_follows_govaluate_precedence_and_associativity(text: str, expected: object) -> None:
    assert evaluate(text) == expected


# -- values ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "variables", "expected"),
    [
        case("'10' == 10", False),
        case("n == '5'", False, n=5),
        case("true == 1", False),
        case("flag == true", True, flag=True),
        case("flag == 1", False, flag=True),
        case("'abc' < 'abd'", True),
        case("'B' < 'a'", True),
        case("'10' < '9'", True),
        case("10 < 9", False),
        case("(1, 2) == (1, 2)", True),
        case("(1, 2) == (1, '2')", False),
        case("nothing == nothing", True, nothing=None),
        case("nothing == 0", False, nothing=None),
    ],
)
def test_it_compares_by_type_and_value(
    text: str, variables: dict[str, object], expected: bool
) -> None:
    assert compile_rule(text).evaluate(variables) is expected


def test_it_compares_numbers_as_floats() -> None:
    assert evaluate("n == 200", n=200) is True
    assert evaluate("n == 200.0", n=200) is True
    assert evaluate("n", n=7) == 7.0
    assert type(evaluate("n", n=7)) is float


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        row("'a' + 'b'", "ab"),
        row("'n=' + 5", "n=5"),
        row("'n=' + 1.5", "n=1.5"),
        row("'n=' + 1000000", "n=1e+06"),
        row("'n=' + 123456", "n=123456"),
        row("'n=' + 0.00001", "n=1e-05"),
        row("'n=' + 1 / 0", "n=+Inf"),
        row("'flag=' + true", "flag=true"),
        row("5 + ' apples'", "5 apples"),
    ],
)
def test_it_concatenates_strings_formatting_numbers_like_go(text: str, expected: str) -> None:
    assert evaluate(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        row(r"'it\'s'", "it's"),
        row(r'"say \"hi\""', 'say "hi"'),
        row(r"'back\\slash'", "back\\slash"),
        row(r"'line\nbreak'", "line\nbreak"),
        row(r"'tab\tstop'", "tab\tstop"),
        row(r"'\d+'", "\\d+"),
        row('"it\'s"', "it's"),
        row("'say \"hi\"'", 'say "hi"'),
        row("''", ""),
    ],
)
def test_it_reads_string_literals_and_escapes(text: str, expected: str) -> None:
    assert evaluate(text) == expected


@pytest.mark.parametrize(
    ("text", "variables", "expected"),
    [
        case("[resp-time] < 100", True, **{"resp-time": 50}),
        case("[with space] == 'x'", True, **{"with space": "x"}),
        case(r"[odd\]name] == 1", True, **{"odd]name": 1}),
        case("http.status == 200", True, **{"http.status": 200}),
        case("_private == 1", True, _private=1),
        case("[in] == 1", True, **{"in": 1}),
    ],
)
def test_it_reads_plain_and_bracketed_variable_names(
    text: str, variables: dict[str, object], expected: bool
) -> None:
    assert compile_rule(text).evaluate(variables) is expected


def test_it_lists_the_variables_a_rule_references() -> None:
    rule = compile_rule("status == 200 && ([resp-time] < 5 || status IN (a, b)) ?? c")
    assert rule.variables == frozenset({"status", "resp-time", "a", "b", "c"})
    assert compile_rule("1 + 1").variables == frozenset()


# -- regular expressions ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "variables", "expected"),
    [
        case("body =~ 'wor'", True, body="hello world"),
        case("body =~ '^world'", False, body="hello world"),
        case(r"body =~ '\d{3}'", True, body="code 404"),
        case("body !~ 'error'", True, body="all good"),
        case("body !~ 'error'", False, body="an error"),
        case("body =~ pattern", True, body="abc", pattern="b+"),
        case("body =~ 'a' + 'b'", True, body="xaby"),
        case("body =~ '(?i)HELLO'", True, body="hello"),
    ],
)
def test_it_matches_regular_expressions_anywhere_in_the_text(
    text: str, variables: dict[str, object], expected: bool
) -> None:
    assert compile_rule(text).evaluate(variables) is expected


def test_it_rejects_an_invalid_literal_regex_when_compiling() -> None:
    with pytest.raises(RuleSyntaxError, match=r"invalid regular expression 'a\(' at position 8"):
        compile_rule("body =~ 'a('")


def test_it_rejects_an_invalid_regex_from_a_variable_when_evaluating() -> None:
    rule = compile_rule("body =~ pattern")
    with pytest.raises(RuleEvalError, match=r"invalid regular expression '\[z'"):
        rule.evaluate({"body": "abc", "pattern": "[z"})


# -- IN --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "variables", "expected"),
    [
        case("x IN (1)", True, x=1),
        case("x IN (2)", False, x=1),
        case("x IN (1, 2, 3)", True, x=3),
        case("x IN (1, 2, 3)", False, x=4),
        case("x in (1, 2)", True, x=2),
        case("'1' IN (1, 2)", False),
        case("x IN (a, b)", True, x="b", a="a", b="b"),
        case("x IN ((1, 2))", True, x=1),
        case("(1, 2) IN ((1, 2), 3)", True),
        case("x IN (1, 2) && y IN ('a')", True, x=1, y="a"),
        case("x IN (1 + 1, 3)", True, x=2),
    ],
)
def test_it_tests_membership_with_in(
    text: str, variables: dict[str, object], expected: bool
) -> None:
    assert compile_rule(text).evaluate(variables) is expected


def test_it_requires_an_array_on_the_right_of_in() -> None:
    with pytest.raises(RuleEvalError, match="value '1' cannot be used with the comparator 'IN'"):
        evaluate("x IN y", x=1, y=1)


# -- evaluation errors and laziness ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "variables", "message"),
    [
        case("'abc' > 5", "value 'abc' cannot be used with the comparator '>', it is not a number"),
        case("5 <= s", "value 'abc' cannot be used with the comparator '<=', it is not a number",
             s="abc"),
        case("'a' < true",
             "value 'true' cannot be used with the comparator '<', it is not a string"),
        case("'x' - 1", "value 'x' cannot be used with the modifier '-', it is not a number"),
        case("true + 1", "value 'true' cannot be used with the modifier '+', it is not a number"),
        case("2 ** 'x'", "value 'x' cannot be used with the modifier '**'"),
        case("'x' & 1", "value 'x' cannot be used with the modifier '&'"),
        case("n && true",
             "value '5' cannot be used with the logical operator '&&', it is not a bool", n=5),
        case("false || 'x'", "value 'x' cannot be used with the logical operator '||'"),
        case("!5", "value '5' cannot be used with the prefix '!', it is not a bool"),
        case("-'x'", "value 'x' cannot be used with the prefix '-', it is not a number"),
        case("~true", "value 'true' cannot be used with the prefix '~'"),
        case("1 ? 2 : 3", "value '1' cannot be used with the ternary operator '?'"),
        case("5 =~ 'x'", "value '5' cannot be used with the comparator '=~', it is not a string"),
        case("'x' !~ 5", "value '5' cannot be used with the comparator '!~', it is not a string"),
        case("1 << -1", "negative shift count"),
        case("foo == 1", "no parameter 'foo' found"),
        case("n > 1", "unsupported type", n=[1, 2]),
        case("n > 1", "too large", n=10**400),
        case("body > 1", "value '" + "x" * 59 + "…' cannot", body="x" * 10_000),
    ],
)  # fmt: skip
def test_it_reports_evaluation_errors_with_govaluate_messages(
    text: str, variables: dict[str, object], message: str
) -> None:
    with pytest.raises(RuleEvalError, match=re.escape(message)):
        compile_rule(text).evaluate(variables)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        row("false && missing", False),
        row("true || missing", True),
        row("true ? 1 : missing", 1.0),
        row("false ? missing : 2", 2.0),
        row("'set' ?? missing", "set"),
        row("false && missing || true", True),
    ],
)
def test_it_short_circuits_so_unreached_variables_need_not_exist(
    text: str, expected: object
) -> None:
    assert evaluate(text) == expected


def test_it_looks_up_reached_variables_even_when_the_rule_is_otherwise_fine() -> None:
    with pytest.raises(RuleEvalError, match="no parameter 'missing' found"):
        evaluate("true && missing")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        row("1 / 0", INF),
        row("-1 / 0", -INF),
        row("2 ** 10000", INF),
        row("(-2) ** 10001", -INF),
        row("0 ** -1", INF),
        row("1 / 0 > 1e308", True),
    ],
)
def test_it_divides_by_zero_and_overflows_like_go_floats(text: str, expected: object) -> None:
    assert evaluate(text) == expected


@pytest.mark.parametrize("text", ["0 / 0", "5 % 0", "(-8) ** 0.5", "1 / 0 - 1 / 0"])
def test_it_gives_nan_where_go_does(text: str) -> None:
    result = evaluate(text)
    assert isinstance(result, float)
    assert math.isnan(result)


# -- syntax errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        row("", "empty expression"),
        row("   \t ", "empty expression"),
        row("(status == 200", r"unexpected end of expression at position 14 \(expected '\)'"),
        row("status == 200)", r"unexpected token '\)' at position 13"),
        row("(a == 1))", r"unexpected token '\)' at position 8"),
        row("status ==", "unexpected end of expression at position 9"),
        row("&& status", "unexpected token '&&' at position 0"),
        row("status == == 200", "unexpected token '==' at position 10"),
        row("'unterminated", "unterminated string starting at position 0"),
        row("x == 'mixed\"", "unterminated string starting at position 5"),
        row("status # 200", "unexpected character '#' at position 7"),
        row("status = 200", r"unexpected character '=' at position 7 \(use '==' to compare\)"),
        row("a b", "unexpected token 'b' at position 2"),
        row("1.2.3", "invalid number '1.2.3' at position 0"),
        row("5ms > 3", "invalid number '5ms' at position 0"),
        row("1e999", "number '1e999' at position 0 is out of range"),
        row("true ? 1", r"unexpected end of expression at position 8 \(expected ':'"),
        row("()", r"unexpected token '\)' at position 1"),
        row("(1, )", r"unexpected token '\)' at position 4"),
        row("[unclosed", "unclosed '\\[' starting at position 0"),
        row("[] == 1", "empty variable name"),
        row("f(1)", r"unexpected token '\(' at position 1"),
        row("x IN", "unexpected end of expression at position 4"),
        row("a.b ä", "unexpected character 'ä' at position 4"),
    ],
)
def test_it_reports_syntax_errors_with_their_position(text: str, message: str) -> None:
    with pytest.raises(RuleSyntaxError, match=message):
        compile_rule(text)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("(" * 500 + "1" + ")" * 500, id="parentheses"),
        pytest.param("-" * 500 + "1", id="prefix-operators"),
        pytest.param("2 ** " * 500 + "1", id="right-associative-power"),
        pytest.param("a ? " * 300 + "1" + " : 2" * 300, id="ternaries"),
        pytest.param("x IN (" * 300 + "1" + ")" * 300, id="in-lists"),
    ],
)
def test_it_refuses_nesting_deeper_than_the_limit(text: str) -> None:
    with pytest.raises(RuleSyntaxError, match="nested too deeply"):
        compile_rule(text)


def test_it_accepts_reasonable_nesting() -> None:
    # Each parenthesis and each operand of a tighter operator is a level of the limit.
    depth = MAX_DEPTH // 4
    assert evaluate("(" * depth + "x" + ")" * depth, x=1) == 1.0
    assert evaluate("(x && " * depth + "true" + ")" * depth, x=True) is True
    assert evaluate("--" * (depth // 2) + "1") == 1.0


def test_it_evaluates_long_flat_chains_without_recursing() -> None:
    text = " || ".join(f"x == {n}" for n in range(300))
    assert len(text) < 4096
    assert evaluate(text, x=299) is True
    assert evaluate("1" + " + 1" * 1000) == 1001.0


def test_it_refuses_overlong_rules() -> None:
    with pytest.raises(RuleSyntaxError, match="too long"):
        compile_rule("x == 1 || " * 500 + "true")


# -- the API ---------------------------------------------------------------------------------


def test_it_caches_compiled_rules_by_text() -> None:
    assert compile_rule("status == 200") is compile_rule("status == 200")


def test_it_returns_immutable_rules_that_remember_their_text() -> None:
    rule = compile_rule("status == 200")
    assert isinstance(rule, Rule)
    assert rule.text == "status == 200"
    with pytest.raises(AttributeError):
        rule.text = "true"  # type: ignore[misc]


def test_it_builds_its_errors_on_one_base_class() -> None:
    assert issubclass(RuleSyntaxError, RuleError)
    assert issubclass(RuleEvalError, RuleError)


def test_it_returns_non_bool_values_for_the_caller_to_judge() -> None:
    assert evaluate("status", status=200) == 200.0
    assert evaluate("(a, b)", a=1, b="x") == [1.0, "x"]
    assert evaluate("nothing", nothing=None) is None


# -- properties: only RuleError, whatever the input ------------------------------------------

NAMES = ("a", "b", "status", "body", "missing")
TOKENS = (
    *("**", "??", "==", "!=", ">=", "<=", "=~", "!~", "&&", "||", "<<", ">>", "IN", "in"),
    *("+", "-", "*", "/", "%", "&", "|", "^", "~", "!", ">", "<", "?", ":", ",", "(", ")"),
    *("0", "1", "2.5", ".5", "1e3", "0x10", "-1", "'x'", '"a(b"', "'\\d+'", "'['", "true"),
    *("false", "[a]", "[status]", *NAMES, "=", "#", "'", "[", "]", "."),
)
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["[", "(", "a+", "x", "1", ".*", "(?P<", "\\"]),
)
VARIABLES = st.dictionaries(st.sampled_from(NAMES[:-1]), VALUES)


def _expressions() -> st.SearchStrategy[str]:
    """Syntactically valid rules, so evaluation gets exercised as much as parsing."""
    leaves = st.one_of(
        st.sampled_from(NAMES),
        st.sampled_from(["0", "1", "2.5", "1e3", "'x'", "'a.*'", "'['", "true", "false"]),
        st.floats(allow_nan=False, allow_infinity=False, min_value=0).map(repr),
    )
    binary = ("**", "??", "==", "!=", ">=", "<=", "=~", "!~", "&&", "||", "<<", ">>", "+")
    binary += ("-", "*", "/", "%", "&", "|", "^", ">", "<", "IN")

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.tuples(inner, st.sampled_from(binary), inner).map(" ".join),
            # Spaced: "!~a" is the regex operator, as in govaluate, not "!" then "~".
            st.tuples(st.sampled_from(["!", "-", "~"]), inner).map(" ".join),
            inner.map("({})".format),
            st.lists(inner, min_size=1, max_size=3).map(lambda items: f"({', '.join(items)})"),
            st.tuples(inner, inner, inner).map(lambda parts: "{} ? {} : {}".format(*parts)),
        )

    return st.recursive(leaves, extend, max_leaves=12)


def _assert_only_rule_errors(text: str, variables: dict[str, object]) -> None:
    try:
        rule = compile_rule(text)
    except RuleSyntaxError:
        return
    with contextlib.suppress(RuleEvalError):
        rule.evaluate(variables)


@settings(max_examples=300, deadline=None, database=None)
@given(text=st.text(max_size=80), variables=VARIABLES)
def test_it_raises_only_rule_errors_for_arbitrary_text(
    text: str, variables: dict[str, object]
) -> None:
    _assert_only_rule_errors(text, variables)


@settings(max_examples=500, deadline=None, database=None)
@given(
    tokens=st.lists(st.sampled_from(TOKENS), max_size=15),
    separator=st.sampled_from([" ", ""]),
    variables=VARIABLES,
)
def test_it_raises_only_rule_errors_for_token_soup(
    tokens: list[str], separator: str, variables: dict[str, object]
) -> None:
    _assert_only_rule_errors(separator.join(tokens), variables)


@settings(
    max_examples=500, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(text=_expressions(), variables=VARIABLES)
def test_it_raises_only_eval_errors_for_valid_rules_over_any_values(
    text: str, variables: dict[str, object]
) -> None:
    try:
        rule = compile_rule(text)
    except RuleSyntaxError as error:
        # The generator only builds valid syntax; the one legitimate refusal is a constant
        # regex that does not compile.
        refusal = str(error)
    else:
        refusal = ""
    if refusal:
        assert "invalid regular expression" in refusal
        return
    with contextlib.suppress(RuleEvalError):
        rule.evaluate(variables)


@settings(database=None)
@given(name=st.text(alphabet=string.ascii_letters + "_", min_size=1, max_size=12))
def test_it_reports_any_unknown_plain_name_as_missing(name: str) -> None:
    try:
        rule = compile_rule(name)
    except RuleSyntaxError:
        assert name in ("in", "IN")
        return
    if name in ("true", "false"):
        return
    with pytest.raises(RuleEvalError, match=f"no parameter '{name}' found"):
        rule.evaluate({})
