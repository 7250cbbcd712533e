"""Equality of Go integers and text, exact ordering of numbers, durations in milliseconds."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from statpulse.conditions.numbers import format_duration_ms, go_duration_ms
from tests.conditions.helpers import judge

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
        ("[RESPONSE_TIME] < 1d", 86_399_999.0, True),
        ("[RESPONSE_TIME] < 1d", 86_400_000.0, False),
        ("[RESPONSE_TIME] < 1.5d", 129_599_999.0, True),
        ("[RESPONSE_TIME] > 1d1h", 90_000_001.0, True),
        ("[RESPONSE_TIME] < 100000d", 8.6e12, True),
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


def test_days_in_the_response_are_a_duration_too() -> None:
    assert judge("[BODY].uptime > 7d", body={"uptime": "8d"})[0]
    assert not judge("[BODY].uptime > 7d", body={"uptime": "167h"})[0]


@given(ms=st.integers(-(10**15), 10**15))
def test_formatted_durations_read_back_as_the_same_milliseconds(ms: int) -> None:
    text = format_duration_ms(ms)
    assert go_duration_ms(text) == ms
    assert text == "0s" or text.lstrip("-")[0] != "0"


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (0, "0s"),
        (1, "1ms"),
        (1500, "1.5s"),
        (60_000, "1m"),
        (86_400_000, "1d"),
        (-90_061_001, "-1d1h1m1.001s"),
    ],
)
def test_durations_are_formatted_compactly(ms: int, text: str) -> None:
    assert format_duration_ms(ms) == text
