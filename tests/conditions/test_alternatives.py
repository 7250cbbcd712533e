"""'||' between alternatives: any one holding is enough; failures describe every side."""

from __future__ import annotations

from typing import Any

import pytest

from statpulse.conditions import ConditionError, parse
from tests.conditions.helpers import case, check

# --- Semantics and descriptions -----------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "observed", "success", "description"),
    [
        case("[STATUS] == 200 || [STATUS] == 204", {"status": 200}, True),
        case("[STATUS] == 200 || [STATUS] == 204", {"status": 204}, True),
        case(
            "[STATUS] == 200 || [STATUS] == 204",
            {"status": 500},
            False,
            "[STATUS] (500) == 200 || [STATUS] (500) == 204",
        ),
        case(
            "[STATUS] == 200 || [BODY].status == UP || [BODY] == pat(*ok*)",
            {"status": 503, "body": {"status": "DOWN"}},
            False,
            '[STATUS] (503) == 200 || [BODY].status (DOWN) == UP || [BODY] ({"status": "DOWN"})'
            " == pat(*ok*)",
        ),
        case(
            "[STATUS] == 200 || [BODY].status == UP",
            {"status": 503, "body": {"status": "UP"}},
            True,
        ),
        case(
            "[BODY].x == 1 || [STATUS] < 300",
            {"status": 404, "body": "<html>"},
            False,
            "[BODY].x (INVALID) == 1 || [STATUS] (404) < 300",
        ),
        case("[BODY].x == 1 || [STATUS] < 300", {"status": 200, "body": "<html>"}, True),
        case(
            "[STATUS]  ==  200   ||  [STATUS] == 204",
            {"status": 204},
            True,
            "[STATUS] == 200 || [STATUS] == 204",
        ),
        case("[BODY] == a||b", {"body": "a||b"}, True),
        case("[BODY] == pat(a || b)", {"body": "a || b"}, True),
        case("[BODY] == any(a || b, c)", {"body": "a || b"}, True),
    ],
)
def test_alternatives_hold_when_any_one_holds(
    condition: str, observed: dict[str, Any], success: bool, description: str
) -> None:
    check(condition, observed, success, description)


def test_each_alternative_is_a_whole_comparison() -> None:
    condition = parse("[STATUS] == 200 || [RESPONSE_TIME] < 1s")
    assert [(a.src, a.start, a.operator) for a in condition.alternatives] == [
        ("[STATUS] == 200", 0, "=="),
        ("[RESPONSE_TIME] < 1s", 19, "<"),
    ]


# --- Errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "position", "reason"),
    [
        ("|| [STATUS] == 200", 0, "missing condition before '||'"),
        ("[STATUS] == 200 ||", 18, "missing condition after '||'"),
        ("[STATUS] == 200 ||   ", 21, "missing condition after '||'"),
        ("[STATUS] == 200 || || [STATUS] == 204", 19, "missing condition before '||'"),
        ("[STATUS] == 200 || 204", 19, "'204' has no operator: each side of '||' is a whole"),
        ("[STATUS] || [STATUS] == 204", 0, "'[STATUS]' has no operator"),
        ("[STATUS] == 200 || [STATUS] ==", 30, "missing value after '=='"),
        ("[STATUS] == || [STATUS] == 204", 12, "missing value after '=='"),
        ("[STATUS] == 200 || == 204", 19, "missing value before '=='"),
        ("[STATUS] == 200 || [STAUTS] == 204", 19, "unknown placeholder '[STAUTS]'"),
        ("[STATUS] == 200 || [IP] > 5", 19, "[IP] is not a number"),
        ("[STATUS] == 200||[STATUS] == 204", 15, "operator '||' needs a space on each side"),
        ("[STATUS] == 200 ||[STATUS] == 204", 16, "operator '||' needs a space on each side"),
        ("[STATUS]|| [STATUS] == 204", 8, "an operator needs a space on each side"),
        ("[STATUS] == 200 or [STATUS] == 204", 16, "write '||' instead of 'or'"),
        ("[STATUS] == 200 && [BODY] == x", 16, "'&&' is not supported"),
        ("[STATUS] == 200 and [BODY] == x", 16, "'and' is not supported"),
        ("[STATUS] == 200 || 204 == 205 == 206", 30, "unexpected second operator '=='"),
    ],
)
def test_invalid_alternatives_are_rejected_with_their_position(
    condition: str, position: int, reason: str
) -> None:
    with pytest.raises(ConditionError) as raised:
        parse(condition)
    assert (raised.value.position, raised.value.condition) == (position, condition)
    assert reason in raised.value.reason


def test_or_binds_looser_than_comparison_operators() -> None:
    # "[BODY] == a || [BODY] == b" is two comparisons, never "[BODY] == (a || [BODY]) == b".
    alternatives = parse("[BODY] == a || [BODY] == b").alternatives
    assert [a.right.src for a in alternatives] == ["a", "b"]
