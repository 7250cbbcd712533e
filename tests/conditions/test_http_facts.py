"""HTTP facts: [HEADERS].Name, [HTTP_VERSION], [REDIRECTS], and the phase timings."""

from __future__ import annotations

from typing import Any

import pytest

from statpulse.model import Phases
from tests.conditions.helpers import case, check, judge

JSON_HEADERS = {"headers": {"content-type": "application/json; charset=utf-8", "x-empty": ""}}

# --- [HEADERS].Name -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "observed", "success", "description"),
    [
        case("[HEADERS].Content-Type == pat(application/json*)", JSON_HEADERS, True),
        case("[HEADERS].content-type == pat(application/json*)", JSON_HEADERS, True),
        case("[HEADER].CONTENT-TYPE == pat(application/json*)", JSON_HEADERS, True),  # Gatus
        case("[headers].Content-Type == re(^application/(json|xml))", JSON_HEADERS, True),
        case(
            "[HEADERS].Content-Type == text/html",
            JSON_HEADERS,
            False,
            "[HEADERS].Content-Type (application/json; charset=utf-8) == text/html",
        ),
        case(
            "[HEADERS].X-Missing == 1",
            JSON_HEADERS,
            False,
            "[HEADERS].X-Missing (INVALID) == 1",
        ),
        case(
            "[HEADERS].X-Missing != 1",
            JSON_HEADERS,
            False,
            "[HEADERS].X-Missing (INVALID) != 1",
        ),
        case("has([HEADERS].X-Empty) == true", JSON_HEADERS, True),
        case("has([HEADERS].X-Missing) == false", JSON_HEADERS, True),
        case("len([HEADERS].Content-Type) == 31", JSON_HEADERS, True),
        case("[HEADERS].Age < 60", {"headers": {"age": "12"}}, True),
        case("[HEADERS].Age < 60", {"headers": {"age": "90"}}, False, "[HEADERS].Age (90) < 60"),
        case("[HEADERS].X-Trace.Id == 7", {"headers": {"x-trace.id": "7"}}, True),
        case("[HEADERS].Server == nginx", {"headers": {"Server": "nginx"}}, True),
        case(
            "[HEADERS].Content-Type == application/json || [HEADERS].Content-Type == text/json",
            {"headers": {"content-type": "text/json"}},
            True,
        ),
    ],
)
def test_header_resolves_by_case_insensitive_name(
    condition: str, observed: dict[str, Any], success: bool, description: str
) -> None:
    check(condition, observed, success, description)


# --- [HTTP_VERSION] and [REDIRECTS] -------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "observed", "success", "description"),
    [
        case("[HTTP_VERSION] == 2", {"http_version": "2"}, True),
        case("[HTTP_VERSION] == 1.1", {"http_version": "1.1"}, True),
        case("[HTTP_VERSION] == 2", {"http_version": "2.0"}, True),
        case("[HTTP_VERSION] == 1.0", {"http_version": "1.0"}, True),
        case("[HTTP_VERSION] >= 2", {"http_version": "1.1"}, False, "[HTTP_VERSION] (1.1) >= 2"),
        case("[HTTP_VERSION] > 1.0", {"http_version": "1.1"}, True),
        case("[HTTP_VERSION] == 2", {"http_version": None}, False, "[HTTP_VERSION] (INVALID) == 2"),
        case("[REDIRECTS] == 0", {}, True),
        case("[REDIRECTS] <= 2", {"redirects": 2}, True),
        case("[REDIRECTS] < 2", {"redirects": 3}, False, "[REDIRECTS] (3) < 2"),
    ],
)
def test_http_version_and_redirect_count(
    condition: str, observed: dict[str, Any], success: bool, description: str
) -> None:
    check(condition, observed, success, description)


# --- Phase timings ------------------------------------------------------------------------

PHASES = {"phases": Phases(dns_ms=1.25, connect_ms=12.0, tls_ms=30.5004, first_byte_ms=250.75)}


@pytest.mark.parametrize(
    ("condition", "observed", "success", "description"),
    [
        case("[DNS_TIME] < 2", PHASES, True),
        case("[DNS_TIME] > 1", PHASES, True),  # fractional: Gatus-style truncation would say 1
        case("[DNS_TIME] < 1.3", PHASES, True),
        case("[DNS_TIME] < 1250us", PHASES, False, "[DNS_TIME] (1.25) < 1250us"),
        case("[DNS_TIME] <= 1250us", PHASES, True),
        case("[CONNECT_TIME] == 12", PHASES, True),
        case("[CONNECT_TIME] < 10ms", PHASES, False, "[CONNECT_TIME] (12) < 10ms"),
        case("[TLS_TIME] < 30ms", PHASES, False, "[TLS_TIME] (30.5) < 30ms"),
        case("[FIRST_BYTE_TIME] < 0.25s", PHASES, False, "[FIRST_BYTE_TIME] (250.75) < 0.25s"),
        case("[FIRST_BYTE_TIME] < 1s", PHASES, True),
        case("[TLS_TIME] < [FIRST_BYTE_TIME]", PHASES, True),
        case("[TLS_TIME] < 100", {}, False, "[TLS_TIME] (INVALID) < 100"),
        case(
            "[DNS_TIME] < 100",
            {"phases": Phases(dns_ms=float("nan"))},
            False,
            "[DNS_TIME] (INVALID) < 100",
        ),
        case("[CONNECT_TIME] < 1", {"phases": Phases(connect_ms=0.0004)}, True),
    ],
)
def test_phase_timings_are_fractional_milliseconds(
    condition: str, observed: dict[str, Any], success: bool, description: str
) -> None:
    check(condition, observed, success, description)


def test_phase_timing_shows_whole_microseconds() -> None:
    observed = {"phases": Phases(connect_ms=0.0004, tls_ms=-0.0001)}
    assert judge("[CONNECT_TIME] > 1", **observed) == (False, "[CONNECT_TIME] (0) > 1")
    assert judge("[TLS_TIME] > 1", **observed) == (False, "[TLS_TIME] (0) > 1")
