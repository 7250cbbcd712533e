"""re() and regex(): RE2 regular expressions, searched within a value in linear time."""

from __future__ import annotations

from typing import Any

import pytest

from statpulse.conditions import ConditionError, evaluate, parse
from statpulse.conditions.nodes import Matcher
from statpulse.conditions.regex import MAX_SUBJECT, compile_regex
from tests.conditions.helpers import case, check, judge, observe


@pytest.mark.parametrize(
    ("condition", "observed", "success", "description"),
    [
        case("[BODY].v == re(^v[0-9]+\\.[0-9]+$)", {"body": {"v": "v1.23"}}, True),
        case("[BODY].v == regex(^v[0-9]+\\.[0-9]+$)", {"body": {"v": "v1.23"}}, True),
        case(
            "[BODY].v == re(^v[0-9]+\\.[0-9]+$)",
            {"body": {"v": "v1.23-rc1"}},
            False,
            "[BODY].v (v1.23-rc1) == re(^v[0-9]+\\.[0-9]+$)",
        ),
        # Unanchored: the pattern may occur anywhere, as in a search.
        case("[BODY] == re(healthy)", {"body": "all healthy here"}, True),
        case("[BODY] != re((?i)error)", {"body": "ok"}, True),
        case(
            "[BODY] != re((?i)error)",
            {"body": "An ERROR occurred"},
            False,
            "[BODY] (An ERROR occurred) != re((?i)error)",
        ),
        case("re(^2[0-9]{2}$) == [STATUS]", {"status": 204}, True),
        case("[STATUS] == re(^(200|204)$)", {"status": 204}, True),
        case("[BODY] == re(a\\)b)", {"body": "a)b"}, True),
        case("[BODY] == re(\\(x\\))", {"body": "f(x)"}, True),
        case("[BODY] == re(a == b)", {"body": "if a == b"}, True),
        case(
            "[BODY] == re(^line2$)",
            {"body": "line1\nline2"},
            False,
            "[BODY] (line1\\nline2) == re(^line2$)",
        ),
        case("[BODY] == re((?m)^line2$)", {"body": "line1\nline2"}, True),
        case("[BODY] == re(caf.$)", {"body": "café"}, True),
        case("[BODY].x == re(.*)", {"body": {}}, False, "[BODY].x (INVALID) == re(.*)"),
        case("[BODY].x != re(.*)", {"body": {}}, False, "[BODY].x (INVALID) != re(.*)"),
        case("[BODY].s == re(x)", {"body": '{"s": "\\ud800x"}'}, True),
    ],
)
def test_re_searches_the_value_for_the_pattern(
    condition: str, observed: dict[str, Any], success: bool, description: str
) -> None:
    check(condition, observed, success, description)


def test_catastrophic_pattern_does_not_backtrack() -> None:
    # Exponential for a backtracking engine: 2**50 ways to split the a's before failing.
    subject = "a" * 50 + "b"
    assert judge("[BODY] == re((a+)+$)", body=subject) == (
        False,
        f"[BODY] ({subject}) == re((a+)+$)",
    )
    assert judge("[BODY] == re((a|aa)+c)", body="a" * 10_000)[0] is False
    assert judge("[BODY] == re((a+)+b$)", body=subject)[0] is True


def test_a_value_longer_than_the_window_is_searched_only_in_the_window() -> None:
    regex = compile_regex("re(needle)", 3, 9)
    assert regex.window == MAX_SUBJECT
    head = "needle" + "x" * MAX_SUBJECT
    tail = "x" * MAX_SUBJECT + "needle"
    assert regex.search(head) is True
    assert regex.search(tail) is None  # not searched: unknown, so neither == nor != holds
    assert judge("[BODY] == re(needle)", body=head)[0] is True
    success, description = judge("[BODY] != re(needle)", body=tail)
    assert not success
    assert description.endswith(
        f" != re(needle) (unknown: re(needle) searched only the first {MAX_SUBJECT} characters)"
    )


def test_end_assertions_see_past_the_window() -> None:
    regex = compile_regex("x$", 0, 2)
    assert regex.search("x" * (MAX_SUBJECT + 5)) is None  # '$' does not match at the window edge
    assert compile_regex("x\\b", 0, 3).search("x" * (MAX_SUBJECT + 5)) is None


def test_large_patterns_search_a_smaller_window() -> None:
    small, large = compile_regex("abc", 0, 3), compile_regex("(?s).{1000}", 0, 11)
    assert large.window < small.window
    assert large.search("y" * 1000 + "z" * (large.window + 1)) is True


def test_parse_compiles_the_pattern_once() -> None:
    right = parse("[BODY] == re(^ok$)").alternatives[0].right
    assert isinstance(right, Matcher)
    assert right.regex is not None
    assert right.regex.pattern == "^ok$"


@pytest.mark.parametrize(
    ("condition", "position", "reason"),
    [
        ("[BODY] == re(a[b)", 13, "invalid regular expression: missing ]: [b"),
        ("[BODY] == re((?<=a)b)", 13, "invalid regular expression"),  # no look-behind in RE2
        ("[BODY] == re((a)\\1)", 13, "invalid regular expression"),  # no back-references
        ("[BODY] == re(a{2000})", 13, "invalid regular expression: invalid repetition size"),
        ("[BODY] == re(a\\)", 12, "unclosed '(' of re()"),
        ("[BODY] == re(?i)error", 13, "no argument for repetition operator"),
        ("[BODY] == regex(a", 15, "unclosed '(' of regex()"),
        ("[STATUS] < re(2..)", 11, "re() works only with == and !="),
        ("re(a) == pat(a)", 9, "need a value to compare with"),
        ("[BODY] == rex(a)", 10, "unknown function 'rex()'"),
    ],
)
def test_invalid_regex_is_rejected_with_its_position(
    condition: str, position: int, reason: str
) -> None:
    with pytest.raises(ConditionError) as raised:
        parse(condition)
    assert (raised.value.position, raised.value.condition) == (position, condition)
    assert reason in raised.value.reason


def test_invalid_regex_fails_evaluation_instead_of_raising() -> None:
    result = evaluate("[BODY] == re(()", observe())
    assert not result.success
    assert result.description.startswith("invalid condition: ")
