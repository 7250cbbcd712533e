"""Properties over any observation or text: nothing raises, comparisons agree with Python."""

from __future__ import annotations

import json
import operator
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from statpulse.conditions import ConditionError, evaluate, evaluate_all, parse
from statpulse.model import Observation
from tests.conditions.helpers import judge, observe

# --- Properties ---------------------------------------------------------------------------

EVERY_FEATURE = [
    "[STATUS] == 200",
    "[STATUS] < 400",
    "[RESPONSE_TIME] < 300ms",
    "[IP] == pat(10.*)",
    "[CONNECTED] == true",
    "[BODY] == pat(*ok*)",
    "[BODY].a.b[0] == x",
    "[BODY][0][1] != 2",
    "[BODY].n > 1.5",
    "[BODY].n <= [BODY].m",
    "len([BODY]) > 2",
    "len([BODY].a) == 3",
    "has([BODY].a) == true",
    "has([BODY]) == false",
    "[BODY].a == any(1, x, true)",
    "[BODY].d > 1h",
]
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from("abmnd"), inner),
    max_leaves=20,
)
BODIES = st.binary() | JSON.map(lambda value: json.dumps(value).encode())
NUMBERS = st.integers(-(2**53), 2**53) | st.floats(-(2.0**53), 2.0**53, allow_nan=False)
PLAIN = st.text(st.characters(codec="ascii", categories=("L", "N")), max_size=8)


@settings(deadline=None)
@given(
    body=BODIES,
    status=st.none() | st.integers(),
    latency_ms=st.none() | st.floats(),
    ip=st.none() | st.text(),
    connected=st.booleans(),
)
def test_evaluate_never_raises_for_any_observation(
    body: bytes, status: int | None, latency_ms: float | None, ip: str | None, connected: bool
) -> None:
    obs = Observation(connected, latency_ms, status_code=status, body=body, ip=ip)
    results = evaluate_all(EVERY_FEATURE, obs)
    assert [r.condition for r in results] == EVERY_FEATURE


@given(st.text(st.sampled_from("[]().,<>=!*?^\\- _aBSTAUODYlenhaspt0123456789")) | st.text())
def test_parse_raises_only_condition_errors_and_evaluate_never_raises(text: str) -> None:
    assert 0 <= error_position(text) <= len(text)
    assert evaluate(text, observe(body=b'{"a": [1]}')).condition == text


def error_position(text: str) -> int:
    """Where parse() reports a problem; 0 when the text parses."""
    try:
        parse(text)
    except ConditionError as error:
        return error.position
    return 0


@given(status=st.integers(100, 599), data=st.data())
def test_status_equals_n_exactly_when_the_status_code_is_n(
    status: int, data: st.DataObject
) -> None:
    n = data.draw(st.integers(100, 599) | st.just(status))
    assert judge(f"[STATUS] == {n}", status=status)[0] is (status == n)
    assert judge(f"[STATUS] != {n}", status=status)[0] is (status != n)


@given(a=NUMBERS, b=NUMBERS, op=st.sampled_from(["<", "<=", ">", ">=", "==", "!="]))
def test_numeric_comparison_matches_python(a: float, b: float, op: str) -> None:
    if op in ("==", "!=") and (isinstance(a, float) or isinstance(b, float)):
        return  # equality compares decimals as text, as in Gatus
    literal = repr(b) if isinstance(b, float) else str(b)
    python = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
    python |= {"==": operator.eq, "!=": operator.ne}
    assert judge(f"[BODY].n {op} {literal}", body={"n": a})[0] is python[op](a, b)


@given(n=st.integers(-(2**63), 2**63 - 1), spell=st.sampled_from([hex, oct, bin, str]))
def test_go_integer_spellings_are_equal_to_their_value(n: int, spell: Any) -> None:
    assert judge(f"[BODY].n == {n}", body={"n": spell(n)})[0]


@given(value=st.text(), needle=PLAIN)
def test_pat_star_needle_star_matches_when_the_value_contains_the_needle(
    value: str, needle: str
) -> None:
    assert judge(f"[BODY].v == pat(*{needle}*)", body={"v": value})[0] is (needle in value)


@given(value=PLAIN, options=st.lists(PLAIN, min_size=1, max_size=4))
def test_any_matches_when_the_value_is_one_of_the_options(value: str, options: list[str]) -> None:
    condition = f"[BODY].v == any({', '.join(options)})"
    assert judge(condition, body={"v": value})[0] is (value in options)
