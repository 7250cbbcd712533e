"""Placeholders, operators and JSON paths: what each side of a condition resolves to."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conditions.helpers import case, check, judge

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
