"""The functions: len(), has(), pat() and any()."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conditions.helpers import case, check, judge

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
