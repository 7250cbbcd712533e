"""The condition language: Gatus syntax and semantics, and our documented deviations."""

from __future__ import annotations

import json
import operator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from statpulse.conditions import (
    Condition,
    ConditionError,
    Matcher,
    Value,
    evaluate,
    evaluate_all,
    parse,
    validate,
)
from statpulse.model import Observation


def observe(
    *,
    status: int | None = 200,
    latency_ms: float | None = 100.0,
    body: bytes | str | Any = b"",
    ip: str | None = "127.0.0.1",
    connected: bool = True,
) -> Observation:
    """An observation; a body that is neither bytes nor str is sent as JSON."""
    if isinstance(body, str):
        body = body.encode()
    elif not isinstance(body, bytes):
        body = json.dumps(body).encode()
    return Observation(
        connected=connected, latency_ms=latency_ms, status_code=status, body=body, ip=ip
    )


def judge(condition: str, **observed: Any) -> tuple[bool, str]:
    result = evaluate(condition, observe(**observed))
    return result.success, result.description


def case(condition: str, observed: dict[str, Any], success: bool, description: str = "") -> Any:
    """A table row; the description defaults to the condition (what a success shows)."""
    return pytest.param(condition, observed, success, description or condition, id=condition)


def check(condition: str, observed: dict[str, Any], success: bool, description: str) -> None:
    assert judge(condition, **observed) == (success, description)


# --- Placeholders -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "observed", "success", "description"),
    [
        case("[STATUS] == 200", {"status": 200}, True),
        case("[STATUS] == 200", {"status": 500}, False, "[STATUS] (500) == 200"),
        case("[STATUS] < 300", {"status": 404}, False, "[STATUS] (404) < 300"),
        case("[STATUS] == 200", {"status": None}, False, "[STATUS] (INVALID) == 200"),
        case("[RESPONSE_TIME] < 500", {"latency_ms": 812.9}, False, "[RESPONSE_TIME] (812) < 500"),
        case("[RESPONSE_TIME] <= 500", {"latency_ms": 500.9}, True),
        case(
            "[RESPONSE_TIME] < 500", {"latency_ms": None}, False, "[RESPONSE_TIME] (INVALID) < 500"
        ),
        case("[IP] == 127.0.0.1", {"ip": "127.0.0.1"}, True),
        case("[IP] == 127.0.0.1", {"ip": "10.0.0.1"}, False, "[IP] (10.0.0.1) == 127.0.0.1"),
        case("[IP] == 127.0.0.1", {"ip": None}, False, "[IP] (INVALID) == 127.0.0.1"),
        case("[CONNECTED] == true", {"connected": True}, True),
        case("[CONNECTED] == true", {"connected": False}, False, "[CONNECTED] (false) == true"),
        case("[BODY] == test", {"body": "  test\n"}, True),
        case("[BODY] == 123", {"body": "123"}, True),
        case("[BODY] > 123", {"body": "100"}, False, "[BODY] (100) > 123"),
    ],
)
def test_placeholder_resolves_from_the_observation(
    condition: str, observed: dict[str, Any], success: bool, description: str
) -> None:
    check(condition, observed, success, description)


def test_placeholder_names_are_case_insensitive() -> None:
    assert judge("[status] == 200", status=200) == (True, "[status] == 200")


def test_json_keys_are_case_sensitive() -> None:
    success, description = judge("[Body].STATUS == UP", body={"status": "UP"})
    assert (success, description) == (False, "[Body].STATUS (INVALID) == UP")


def test_missing_status_fails_even_a_not_equal_condition() -> None:
    assert judge("[STATUS] != 500", status=None) == (False, "[STATUS] (INVALID) != 500")


def test_body_is_decoded_as_utf8_with_replacement() -> None:
    assert judge("[BODY] == x", body=b"\xff") == (False, "[BODY] (\ufffd) == x")


# --- Operators ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "success"),
    [
        ("[STATUS] == 200", True),
        ("[STATUS] == 201", False),
        ("[STATUS] != 200", False),
        ("[STATUS] != 201", True),
        ("[STATUS] < 200", False),
        ("[STATUS] < 201", True),
        ("[STATUS] <= 200", True),
        ("[STATUS] <= 199", False),
        ("[STATUS] > 199", True),
        ("[STATUS] > 200", False),
        ("[STATUS] >= 200", True),
        ("[STATUS] >= 201", False),
    ],
)
def test_operator_compares_status_200(condition: str, success: bool) -> None:
    assert judge(condition, status=200)[0] is success


def test_operator_may_be_surrounded_by_any_whitespace() -> None:
    assert judge("[STATUS]\t==   200", status=200) == (True, "[STATUS] == 200")


def test_literal_values_may_contain_spaces() -> None:
    assert judge("[BODY].msg == hello  world", body={"msg": "hello  world"})[0]


def test_description_resolves_both_sides_of_a_failure() -> None:
    body = {"user": {"firstName": "john", "lastName": "doe"}}
    success, description = judge("[BODY].user.firstName == [BODY].user.lastName", body=body)
    assert not success
    assert description == "[BODY].user.firstName (john) == [BODY].user.lastName (doe)"


# --- JSON paths ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "observed", "success", "description"),
    [
        case("[BODY].status == UP", {"body": {"status": "UP"}}, True),
        case(
            "[BODY].status == UP", {"body": {"status": "DOWN"}}, False, "[BODY].status (DOWN) == UP"
        ),
        case("[BODY].data.name == john", {"body": {"data": {"id": 1, "name": "john"}}}, True),
        case("[BODY].data[1].id == 2", {"body": {"data": [{"id": 1}, {"id": 2}]}}, True),
        case("[BODY][0].id == 1", {"body": [{"id": 1}, {"id": 2}]}, True),
        case("[BODY].[1] == b", {"body": ["a", "b"]}, True),
        case("[BODY][3][2] == 7", {"body": [[1, 2], [3, 4], [], [5, 6, 7]]}, True),
        case("[BODY].data[1][1] == eeeee", {"body": {"data": [["a"], ["d", "eeeee"]]}}, True),
        case(
            "[BODY].data[0].apps[1].name == app2",
            {"body": {"data": [{"apps": [{}, {"name": "app2"}]}]}},
            True,
        ),
        case(
            '[BODY].data == {"a":1,"b":[true,null]}',
            {"body": {"data": {"b": [True, None], "a": 1}}},
            True,
        ),
        case('[BODY].tags == ["a","b"]', {"body": {"tags": ["a", "b"]}}, True),
        case("[BODY].ok == true", {"body": {"ok": True}}, True),
        case("[BODY].name == café", {"body": {"name": "café"}}, True),
        case(
            "[BODY].data.name == john",
            {"body": {"data": {"id": 1}}},
            False,
            "[BODY].data.name (INVALID) == john",
        ),
        case(
            "[BODY].items[5] == x",
            {"body": {"items": ["x"]}},
            False,
            "[BODY].items[5] (INVALID) == x",
        ),
        case("[BODY].data == OK", {"body": {"data": None}}, False, "[BODY].data (INVALID) == OK"),
        case(
            "[BODY].items[0] == OK",
            {"body": {"items": [None]}},
            False,
            "[BODY].items[0] (INVALID) == OK",
        ),
        case("[BODY].data == OK", {"body": "null"}, False, "[BODY].data (INVALID) == OK"),
        case(
            "[BODY][0].name == test",
            {"body": {"statusCode": 500}},
            False,
            "[BODY][0].name (INVALID) == test",
        ),
        case(
            "[BODY].status == UP",
            {"body": "<html>UP</html>"},
            False,
            "[BODY].status (INVALID) == UP",
        ),
        case("[BODY].x == NaN", {"body": '{"x": NaN}'}, False, "[BODY].x (INVALID) == NaN"),
    ],
)
def test_json_path_selects_a_value_from_the_body(
    condition: str, observed: dict[str, Any], success: bool, description: str
) -> None:
    check(condition, observed, success, description)


@pytest.mark.parametrize(
    ("condition", "body"),
    [
        pytest.param(
            "[BODY].data.name.first == john", {"data": {"name": "john"}}, id="through-string"
        ),
        pytest.param("[BODY].data.id.x == 1", {"data": {"id": 1}}, id="through-number"),
        pytest.param("[BODY].anything == [1,2]", [1, 2], id="key-on-array"),
    ],
)
def test_json_path_through_a_non_container_is_invalid(condition: str, body: Any) -> None:
    success, description = judge(condition, body=body)
    assert not success
    assert "(INVALID)" in description


@pytest.mark.parametrize(
    ("condition", "body"),
    [
        pytest.param("[BODY].count == 1000000", {"count": 1e6}, id="exponent-float"),
        pytest.param("[BODY].count == 1", {"count": 1.0}, id="integral-float"),
        pytest.param("[BODY].price == 1.5", '{"price": 1.50}', id="trailing-zero"),
        pytest.param(
            "[BODY].big == 12345678901234567890", '{"big": 12345678901234567890}', id="big-int"
        ),
    ],
)
def test_json_numbers_render_in_plain_decimal(condition: str, body: Any) -> None:
    assert judge(condition, body=body)[0]


# --- Numbers and strings ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "data", "success"),
    [
        ("[BODY].data == 1", "0x1", True),
        ("[BODY].data == 12648243", "0xC0ff33", True),
        ("[BODY].data == 0x1", "0x1", True),
        ("[BODY].data == 2", "0o2", True),
        ("[BODY].data == 2", "0b0010", True),
        ("[BODY].data == 8", "010", True),
        ("[BODY].data == 1000", "1_000", True),
        ("[BODY].data == -5", "-0x5", True),
        ("[BODY].data == 1", "1.0", False),
        ("[BODY].data == up", "UP", False),
        ('[BODY].data == "john"', "john", False),
        ("[BODY].data == 9223372036854775808", "9223372036854775808", True),
        ("[BODY].data == 9223372036854775808", "0x8000000000000000", False),
    ],
)
def test_equality_compares_go_integers_numerically_and_anything_else_as_text(
    condition: str, data: str, success: bool
) -> None:
    assert judge(condition, body={"data": data})[0] is success


@pytest.mark.parametrize(
    ("condition", "success"),
    [("1 == 1", True), ("1 == 2", False), ("raw == raw", True), ("0x10 == 16", True)],
)
def test_condition_without_placeholders_compares_its_literals(
    condition: str, success: bool
) -> None:
    assert judge(condition)[0] is success


@pytest.mark.parametrize(
    ("condition", "data", "success"),
    [
        ("[BODY].data > 100", "123.40000000000005", True),
        ("[BODY].data > 0.5", 0.7, True),
        ("[BODY].data < 0.75", 0.7, True),
        ("[BODY].data > 0", "0x1", True),
        ("[BODY].data >= 1e3", 1000, True),
        ("[BODY].data > 9223372036854775807", 9223372036854775808, True),
        ("[BODY].data < -1", -1.5, True),
    ],
)
def test_ordering_compares_numbers_exactly(condition: str, data: Any, success: bool) -> None:
    assert judge(condition, body={"data": data})[0] is success


def test_ordering_fails_when_the_value_is_not_a_number() -> None:
    assert judge("[BODY].n < 5", body={"n": "UP"}) == (False, "[BODY].n (UP) < 5")


def test_ordering_fails_when_the_value_is_missing() -> None:
    assert judge("[BODY].n > -1", body={}) == (False, "[BODY].n (INVALID) > -1")


# --- Durations ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "latency_ms", "success"),
    [
        ("[RESPONSE_TIME] < 1s", 50.0, True),
        ("[RESPONSE_TIME] > 1s", 2000.0, True),
        ("[RESPONSE_TIME] < 300ms", 299.9, True),
        ("[RESPONSE_TIME] < 300ms", 300.0, False),
        ("[RESPONSE_TIME] < 1.5s", 1499.0, True),
        ("[RESPONSE_TIME] < 1.5s", 1500.0, False),
        ("[RESPONSE_TIME] <= 1m30s", 90000.0, True),
        ("[RESPONSE_TIME] < 1h", 3_599_999.0, True),
        ("[RESPONSE_TIME] > 0s", 1.0, True),
        ("[RESPONSE_TIME] > 999us", 1.0, True),
        ("[RESPONSE_TIME] < 2\u00b5s", 0.5, True),
    ],
)
def test_duration_is_compared_in_milliseconds(
    condition: str, latency_ms: float, success: bool
) -> None:
    assert judge(condition, latency_ms=latency_ms)[0] is success


def test_failed_duration_condition_shows_the_latency_in_milliseconds() -> None:
    success, description = judge("[RESPONSE_TIME] < 300ms", latency_ms=812.0)
    assert (success, description) == (False, "[RESPONSE_TIME] (812) < 300ms")


def test_duration_in_the_response_is_compared_in_milliseconds() -> None:
    assert judge("[BODY].uptime > 1h", body={"uptime": "90m"})[0]


def test_duration_is_not_converted_for_equality() -> None:
    assert not judge("[RESPONSE_TIME] == 1s", latency_ms=1000.0)[0]


# --- Functions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "observed", "success", "description"),
    [
        case("len([BODY].data.name) == 4", {"body": {"data": {"name": "john"}}}, True),
        case("len([BODY]) == 3", {"body": [{"id": 1}, {"id": 2}, {"id": 3}]}, True),
        case("len([BODY].data) == 3", {"body": {"data": [1, 2, 3]}}, True),
        case("len([BODY]) == 8", {"body": "john.doe"}, True),
        case("len([BODY]) == 20", {"body": '{"name": "john.doe"}'}, True),
        case("len([BODY].age) == 2", {"body": {"age": 18}}, True),
        case("len([BODY].adult) == 4", {"body": {"adult": True}}, True),
        case("len([BODY][0]) == 23", {"body": [{"age": 18, "adult": True}]}, True),
        case("len([BODY].name) == 4", {"body": {"name": "café"}}, True),
        case("len([BODY].items) > 0", {"body": {"items": []}}, False, "len([BODY].items) (0) > 0"),
        case(
            "len([BODY].data) == 8",
            {"body": {"name": "x"}},
            False,
            "len([BODY].data) (INVALID) == 8",
        ),
    ],
)
def test_len_counts_elements_or_characters(
    condition: str, observed: dict[str, Any], success: bool, description: str
) -> None:
    check(condition, observed, success, description)


@pytest.mark.parametrize(
    ("condition", "observed", "success", "description"),
    [
        case("has([BODY].errors) == false", {"body": {}}, True),
        case(
            "has([BODY].errors) == false",
            {"body": {"errors": ["1"]}},
            False,
            "has([BODY].errors) (true) == false",
        ),
        case("has([BODY].users) == true", {"body": {"users": []}}, True),
        case("has([BODY].name) == true", {"body": {"name": ""}}, True),
        case(
            "has([BODY].data) == true",
            {"body": {"data": None}},
            False,
            "has([BODY].data) (false) == true",
        ),
        case("has([BODY].status) == false", {"body": "<html>"}, True),
        case("has([BODY]) == true", {"body": "x"}, True),
        case("has([BODY]) == true", {"body": " \n"}, False, "has([BODY]) (false) == true"),
    ],
)
def test_has_tells_whether_the_path_resolves(
    condition: str, observed: dict[str, Any], success: bool, description: str
) -> None:
    check(condition, observed, success, description)


HTML = '<!DOCTYPE html><html><body><div id="user">john.doe</div></body></html>'


@pytest.mark.parametrize(
    ("condition", "observed", "success", "description"),
    [
        case("[BODY] == pat(*john*)", {"body": {"name": "john.doe"}}, True),
        case("[BODY].name == pat(john*)", {"body": {"name": "john.doe"}}, True),
        case(
            "[BODY].name == pat(bob*)",
            {"body": {"name": "john.doe"}},
            False,
            "[BODY].name (john.doe) == pat(bob*)",
        ),
        case('[BODY] == pat(*<div id="user">john.doe</div>*)', {"body": HTML}, True),
        case("[IP] == pat(10.*)", {"ip": "10.0.0.0"}, True),
        case(
            "[IP] == pat(10.*)",
            {"ip": "255.255.255.255"},
            False,
            "[IP] (255.255.255.255) == pat(10.*)",
        ),
        case("[STATUS] == pat(4*)", {"status": 404}, True),
        case("[STATUS] == pat(4*)", {"status": 200}, False, "[STATUS] (200) == pat(4*)"),
        case("pat(4*) == [STATUS]", {"status": 404}, True),
        case("[STATUS] != pat(5*)", {"status": 200}, True),
        case("[STATUS] != pat(5*)", {"status": 503}, False, "[STATUS] (503) != pat(5*)"),
        case("[BODY].id == pat(a?c)", {"body": {"id": "abc"}}, True),
        case(
            "[BODY].id == pat(a?c)", {"body": {"id": "abbc"}}, False, "[BODY].id (abbc) == pat(a?c)"
        ),
        case("[BODY].id == pat([a-c]x)", {"body": {"id": "bx"}}, True),
        case(
            "[BODY].id == pat([^a-c]x)",
            {"body": {"id": "bx"}},
            False,
            "[BODY].id (bx) == pat([^a-c]x)",
        ),
        case("[BODY].id == pat([\\]]x)", {"body": {"id": "]x"}}, True),
        case(
            "[BODY].id == pat(a\\*b)",
            {"body": {"id": "axb"}},
            False,
            "[BODY].id (axb) == pat(a\\*b)",
        ),
        case("[BODY].id == pat(a\\*b)", {"body": {"id": "a*b"}}, True),
        case("[BODY].id == pat(ab)", {"body": {"id": "a/b"}}, False, "[BODY].id (a/b) == pat(ab)"),
        case("[BODY].id == pat(*(x)*)", {"body": {"id": "f(x)"}}, True),
        case("[BODY].id == pat(*\\)*)", {"body": {"id": ":)"}}, True),
        case("[BODY].id == pat(*a == b*)", {"body": {"id": "if a == b"}}, True),
        case("[BODY] == pat(one*two)", {"body": "one\nand\ntwo"}, True),
        case("[BODY].data == pat(*Whatever*)", {"body": {"data": ["hello", "Whatever"]}}, True),
        case("[BODY].x == pat(*)", {"body": {}}, False, "[BODY].x (INVALID) == pat(*)"),
        case("[BODY].x != pat(*)", {"body": {}}, False, "[BODY].x (INVALID) != pat(*)"),
    ],
)
def test_pat_matches_a_glob_against_the_whole_value(
    condition: str, observed: dict[str, Any], success: bool, description: str
) -> None:
    check(condition, observed, success, description)


def test_response_value_is_never_read_as_a_pattern() -> None:
    assert not judge("[BODY] == anything", body="pat(*)")[0]


@pytest.mark.parametrize(
    ("condition", "observed", "success", "description"),
    [
        case("[BODY].name == any(john.doe, jane.doe)", {"body": {"name": "john.doe"}}, True),
        case("[BODY].name == any(john.doe, jane.doe)", {"body": {"name": "jane.doe"}}, True),
        case(
            "[BODY].name == any(john.doe, jane.doe)",
            {"body": {"name": "bob"}},
            False,
            "[BODY].name (bob) == any(john.doe, jane.doe)",
        ),
        case("[STATUS] == any(200, 429)", {"status": 429}, True),
        case("[BODY].id == any(1, 2)", {"body": {"id": 2}}, True),
        case(
            "[STATUS] == any(200, 429)", {"status": 404}, False, "[STATUS] (404) == any(200, 429)"
        ),
        case("any(200, 429) == [STATUS]", {"status": 429}, True),
        case("[STATUS] != any(500, 503)", {"status": 200}, True),
        case(
            "[STATUS] != any(500, 503)", {"status": 503}, False, "[STATUS] (503) != any(500, 503)"
        ),
        case("[STATUS] == any(0xC8)", {"status": 200}, False, "[STATUS] (200) == any(0xC8)"),
    ],
)
def test_any_matches_one_of_its_options_exactly(
    condition: str, observed: dict[str, Any], success: bool, description: str
) -> None:
    check(condition, observed, success, description)


# --- Parse errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "position", "reason"),
    [
        ("[STATUS] == 200)", 15, "unexpected token ')'"),
        ("[BODY] == (x)", 10, "unexpected token '('"),
        ("[STATUS] 200 == 200", 9, "unexpected token '200'"),
        ("[STATUS]==200", 8, "an operator needs a space on each side"),
        ("[STATUS] ==200", 9, "operator '==' needs a space on each side"),
        ("[STATUS] ? 201", 14, "missing operator"),
        ("[STATUS] = = 201", 16, "missing operator"),
        ("[STATUS]", 8, "missing operator"),
        ("", 0, "missing operator"),
        ("[STATUS] ==", 11, "missing value after '=='"),
        ("== 200", 0, "missing value before '=='"),
        ("[STATUS] == 200 == 300", 16, "unexpected second operator '=='"),
        ("[STAUTS] == 200", 0, "unknown placeholder '[STAUTS]'"),
        ("[CERTIFICATE_EXPIRATION] > 48h", 0, "unknown placeholder"),
        ("[STATUS].code == 200", 8, "[STATUS] takes no JSON path"),
        ("[STATUS]x == 200", 8, "unexpected character 'x' after [STATUS]"),
        ("[BODY]. == 1", 7, "expected a key after '.'"),
        ("[BODY].a[x] == 1", 8, "an array index must be an integer"),
        ("[BODY].a[-1] == 1", 8, "an array index must be an integer"),
        ("[BODY].a[*].b == 1", 8, "the [*] wildcard is not supported"),
        ("age([BODY].t) < 1h", 0, "unknown function 'age()'"),
        ("LEN([BODY]) == 1", 0, "unknown function 'LEN()'"),
        ("len([BODY].users == 100", 16, "missing ')' to close len("),
        ("len([STATUS]) == 3", 4, "len() works only with [BODY]"),
        ("has(foo) == true", 4, "has() works only with [BODY]"),
        ("len() == 0", 4, "len() works only with [BODY]"),
        ("[IP] == pat(10.*", 11, "unclosed '(' of pat()"),
        ("[IP] == pat(a\\)", 11, "unclosed '(' of pat()"),
        ("[STATUS] < pat(2*)", 11, "pat() works only with == and !="),
        ("[STATUS] >= any(200, 201)", 12, "any() works only with == and !="),
        ("pat(a) == any(a)", 10, "need a value to compare with"),
        ("[RESPONSE_TIME] < potato", 18, "'potato' is not a number or a duration"),
        ("[IP] > 5", 0, "[IP] is not a number"),
        ("[CONNECTED] >= 1", 0, "[CONNECTED] is not a number"),
        ("has([BODY].x) < 1", 0, "has([BODY].x) is not a number"),
        ("[IP] == pat([a)", 12, "unclosed '[' in pattern"),
        ("[IP] == pat([]a])", 13, "unexpected ']'"),
        ("[IP] == pat([a-])", 15, "unexpected ']'"),
        ("[IP] == pat(a\\\\\\)", 11, "unclosed '(' of pat()"),
    ],
)
def test_invalid_condition_is_rejected_with_its_position(
    condition: str, position: int, reason: str
) -> None:
    with pytest.raises(ConditionError) as raised:
        parse(condition)
    assert (raised.value.position, raised.value.condition) == (position, condition)
    assert reason in raised.value.reason


def test_condition_error_reads_reason_position_and_condition() -> None:
    with pytest.raises(ConditionError) as raised:
        parse("[STATUS] == 200)")
    error = raised.value
    assert isinstance(error, ValueError)
    assert str(error) == "unexpected token ')' at position 15 in '[STATUS] == 200)'"
    assert (error.reason, error.index) == ("unexpected token ')'", None)


def test_validate_returns_the_parsed_conditions_in_order() -> None:
    parsed = validate(["[STATUS] == 200", "[RESPONSE_TIME] < 1s"])
    assert [c.text for c in parsed] == ["[STATUS] == 200", "[RESPONSE_TIME] < 1s"]


def test_validate_names_the_index_of_the_first_invalid_condition() -> None:
    with pytest.raises(ConditionError) as raised:
        validate(["[STATUS] == 200", "[BODY] ==", "nope"])
    assert (raised.value.index, raised.value.condition) == (1, "[BODY] ==")


# --- AST, results, latency ----------------------------------------------------------------


def test_parse_builds_an_ast_of_the_two_sides() -> None:
    condition = parse("len([BODY].data[0].tags) >= 2")
    assert condition == Condition(
        "len([BODY].data[0].tags) >= 2",
        ">=",
        Value("len([BODY].data[0].tags)", 0, "BODY", ("data", 0, "tags"), "len"),
        Value("2", 28),
    )


def test_parse_splits_any_options_and_trims_them() -> None:
    right = parse("[STATUS] == any( 200 ,429 )").right
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
    ],
)
def test_latency_only_when_every_placeholder_is_the_response_time(
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
