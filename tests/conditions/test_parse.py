"""Invalid conditions are rejected with a position; validate() names the index."""

from __future__ import annotations

import pytest

from statpulse.conditions import ConditionError, parse, validate

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
        ("[DOMAIN_EXPIRATION] > 720h", 0, "unknown placeholder"),
        ("[STATUS].code == 200", 8, "[STATUS] takes no JSON path"),
        ("[STATUS]x == 200", 8, "unexpected character 'x' after [STATUS]"),
        ("[BODY]. == 1", 7, "expected a key after '.'"),
        ("[BODY].a[x] == 1", 8, "an array index must be an integer"),
        ("[BODY].a[-1] == 1", 8, "an array index must be an integer"),
        ("[BODY].a[*].b == 1", 8, "the [*] wildcard is not supported"),
        ("age([BODY].t) < 1h", 0, "unknown function 'age()'"),
        ("LEN([BODY]) == 1", 0, "unknown function 'LEN()'"),
        ("len([BODY].users == 100", 16, "missing ')' to close len("),
        ("len([STATUS]) == 3", 4, "len() works only with [BODY], [HEADERS].Name"),
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
        ("[HEADERS] == x", 9, "[HEADERS] needs a header name, as in [HEADERS].Content-Type"),
        ("[header]. == x", 8, "[header] needs a header name"),
        ("[HEADERS].X[0] == 1", 11, "[HEADERS] takes no JSON path"),
        ("[CERTIFICATE_SANS].x == 1", 18, "[CERTIFICATE_SANS] takes only an element index"),
        ("[DNS_ANSWERS][a] == 1", 13, "an array index must be an integer"),
        ("[CERTIFICATE_SANS] > 1", 0, "[CERTIFICATE_SANS] is a list (compare len("),
        ("[DNS_RCODE] > 1", 0, "[DNS_RCODE] is not a number"),
        ("[GRPC_STATUS] < SERVING", 0, "[GRPC_STATUS] is not a number"),
        ("[CERTIFICATE_VALID] >= 1", 0, "[CERTIFICATE_VALID] is not a number"),
        ("[TLS_VERSION] >= 1.2", 0, "[TLS_VERSION] is not a number"),
        ("[CERTIFICATE_ISSUER] > a", 0, "[CERTIFICATE_ISSUER] is not a number"),
        ("has([HEADERS].X) > 0", 0, "has([HEADERS].X) is not a number"),
        ("has([DNS_RCODE]) == true", 4, "has() works only with [BODY], [HEADERS].Name"),
        ("len([IP]) > 1", 4, "len() works only with"),
        ("[CERTIFICATE_EXPIRATION] > 30 days", 27, "'30 days' is not a number or a duration"),
        ("[DNS_TIME] < fast", 13, "'fast' is not a number or a duration"),
        ("[DNS_TIME]<5", 10, "an operator needs a space on each side"),
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
