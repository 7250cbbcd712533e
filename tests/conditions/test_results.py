"""The parsed AST, latency-only conditions, and the results and descriptions of evaluate()."""

from __future__ import annotations

import pytest

from statpulse.conditions import Condition, evaluate, evaluate_all, parse
from statpulse.conditions.nodes import Comparison, Matcher, Value
from tests.conditions.helpers import judge, observe

# --- AST, results, latency ----------------------------------------------------------------


def test_parse_builds_an_ast_of_the_two_sides() -> None:
    condition = parse("len([BODY].data[0].tags) >= 2")
    assert condition == Condition(
        "len([BODY].data[0].tags) >= 2",
        (
            Comparison(
                "len([BODY].data[0].tags) >= 2",
                0,
                ">=",
                Value("len([BODY].data[0].tags)", 0, "BODY", ("data", 0, "tags"), "len"),
                Value("2", 28),
            ),
        ),
    )


def test_parse_splits_any_options_and_trims_them() -> None:
    right = parse("[STATUS] == any( 200 ,429 )").alternatives[0].right
    assert isinstance(right, Matcher)
    assert right.options == ("200", "429")


@pytest.mark.parametrize(
    ("condition", "latency_only"),
    [
        ("[RESPONSE_TIME] < 500", True),
        ("[response_time] < 1s", True),
        ("[STATUS] == 200", False),
        ("[RESPONSE_TIME] < [BODY].max", False),
        ("len([BODY]) > 1", False),
        ("1 == 1", False),
        ("[DNS_TIME] < 50", True),
        ("[CONNECT_TIME] < 1s", True),
        ("[TLS_TIME] <= [CONNECT_TIME]", True),
        ("[FIRST_BYTE_TIME] < 800ms", True),
        ("[RESPONSE_TIME] < 1s || [FIRST_BYTE_TIME] < 500", True),
        ("[RESPONSE_TIME] < 1s || [STATUS] == 204", False),
        ("[STATUS] == 204 || [RESPONSE_TIME] < 1s", False),
        ("[CERTIFICATE_EXPIRATION] > 7d", False),
    ],
)
def test_latency_only_when_every_placeholder_is_a_timing(
    condition: str, latency_only: bool
) -> None:
    assert parse(condition).latency_only is latency_only


def test_result_copies_latency_only_from_the_condition() -> None:
    result = evaluate("[RESPONSE_TIME] < 1", observe(latency_ms=5.0))
    assert (result.success, result.latency_only) == (False, True)


def test_result_keeps_the_condition_as_written() -> None:
    result = evaluate("[STATUS]  ==  200", observe(status=200))
    assert (result.condition, result.description) == ("[STATUS]  ==  200", "[STATUS] == 200")


def test_evaluate_accepts_a_parsed_condition() -> None:
    parsed = parse("[STATUS] == 200")
    assert evaluate(parsed, observe(status=500)) == evaluate("[STATUS] == 200", observe(status=500))


def test_evaluate_fails_an_unparsable_string_instead_of_raising() -> None:
    result = evaluate("[STATUS] == 200)", observe())
    assert not result.success
    assert result.condition == "[STATUS] == 200)"
    assert result.description == (
        "invalid condition: unexpected token ')' at position 15 in '[STATUS] == 200)'"
    )


def test_evaluate_all_returns_one_result_per_condition_in_order() -> None:
    conditions: list[Condition | str] = ["[STATUS] == 200", parse("[BODY].ok == true"), "bad"]
    results = evaluate_all(conditions, observe(status=200, body={"ok": False}))
    assert [(r.condition, r.success) for r in results] == [
        ("[STATUS] == 200", True),
        ("[BODY].ok == true", False),
        ("bad", False),
    ]


def test_description_truncates_long_values_to_100_characters() -> None:
    _, description = judge("[BODY] == y", body="x" * 500)
    assert description == "[BODY] (" + "x" * 100 + "...(truncated)) == y"


def test_description_escapes_non_printable_characters() -> None:
    assert judge("[BODY] == c", body="a\nb\x00") == (False, "[BODY] (a\\nb\\x00) == c")
