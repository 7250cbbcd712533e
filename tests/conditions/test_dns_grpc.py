"""DNS and gRPC checks: [DNS_RCODE], [DNS_ANSWERS], what [BODY] holds for them, [GRPC_STATUS]."""

from __future__ import annotations

from typing import Any

import pytest

from statpulse.model import DnsInfo
from tests.conditions.helpers import case, check, judge


def dns(record_type: str, *answers: str, rcode: str = "NOERROR") -> dict[str, Any]:
    """What a DNS probe observes: the answers, no HTTP status, no body."""
    return {"dns": DnsInfo(record_type, rcode, answers), "status": None, "body": b""}


A_TWO = dns("A", "192.0.2.1", "192.0.2.2")

# --- [DNS_RCODE] and [DNS_ANSWERS] --------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "observed", "success", "description"),
    [
        case("[DNS_RCODE] == NOERROR", dns("A", "192.0.2.1"), True),
        case(
            "[DNS_RCODE] == NOERROR",
            dns("A", rcode="NXDOMAIN"),
            False,
            "[DNS_RCODE] (NXDOMAIN) == NOERROR",
        ),
        case("[DNS_RCODE] == any(NOERROR, NXDOMAIN)", dns("A", rcode="NXDOMAIN"), True),
        case("[dns_rcode] != SERVFAIL", dns("A"), True),
        case(
            "[DNS_RCODE] != SERVFAIL",
            {"dns": None},
            False,
            "[DNS_RCODE] (INVALID) != SERVFAIL",
        ),
        case("[DNS_ANSWERS] == 192.0.2.2", A_TWO, True),
        case("len([DNS_ANSWERS]) == 2", A_TWO, True),
        case("[DNS_ANSWERS][0] == 192.0.2.1", A_TWO, True),
        case(
            "len([DNS_ANSWERS]) > 0",
            dns("A", rcode="NXDOMAIN"),
            False,
            "len([DNS_ANSWERS]) (0) > 0",
        ),
        case("[DNS_ANSWERS] == 10 mx.example.com.", dns("MX", "10 mx.example.com."), True),
        case(
            "[DNS_ANSWERS] == 192.0.2.1",
            {"dns": None},
            False,
            "[DNS_ANSWERS] (INVALID) == 192.0.2.1",
        ),
    ],
)
def test_dns_placeholders_resolve_from_the_answer(
    condition: str, observed: dict[str, Any], success: bool, description: str
) -> None:
    check(condition, observed, success, description)


# --- [BODY] of a DNS check ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "observed", "success", "description"),
    [
        # Gatus's README: the body is the answer's value.
        case("[BODY] == 93.184.215.14", dns("A", "93.184.215.14"), True),
        case(
            "[BODY] == 2606:2800:21f:cb07:6820:80da:af6b:8b2c",
            dns("AAAA", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"),
            True,
        ),
        case("[BODY] == example.net.", dns("CNAME", "example.net."), True),
        case("[BODY] == a.iana-servers.net.", dns("NS", "a.iana-servers.net."), True),
        # Gatus keeps only the exchange of an MX answer, not its preference.
        case("[BODY] == mx.example.com.", dns("MX", "10 mx.example.com."), True),
        # TXT as the probe gives it: the strings unquoted and joined.
        case("[BODY] == v=spf1 -all", dns("TXT", "v=spf1 -all"), True),
        case('[BODY] == "quoted"', dns("TXT", '"quoted"'), True),
        case("[BODY] == pat(v=spf1 *)", dns("TXT", "v=spf1 include:_spf.example.com ~all"), True),
        case("[BODY] == SOA text", dns("SOA", "SOA text"), True),
        case("[BODY] == 10", dns("MX", "10"), True),  # not an MX record's text: left as is
        # With several answers, any of them may match (Gatus compared the last one only).
        case("[BODY] == 192.0.2.1", A_TWO, True),
        case("[BODY] == 192.0.2.2", A_TWO, True),
        case(
            "[BODY] == 192.0.2.3",
            A_TWO,
            False,
            '[BODY] (["192.0.2.1","192.0.2.2"]) == 192.0.2.3',
        ),
        case("[BODY] != 192.0.2.3", A_TWO, True),
        case(
            "[BODY] != 192.0.2.1",
            A_TWO,
            False,
            '[BODY] (["192.0.2.1","192.0.2.2"]) != 192.0.2.1',
        ),
        case("[BODY] == pat(192.0.2.*)", A_TWO, True),
        case("[BODY] == any(198.51.100.7, 192.0.2.2)", A_TWO, True),
        case("[BODY] == re(^192\\.0\\.2\\.[12]$)", A_TWO, True),
        case("[BODY][1] == 192.0.2.2", A_TWO, True),
        case("len([BODY]) == 2", A_TWO, True),
        case("has([BODY]) == true", A_TWO, True),
        case("[BODY].x == 1", A_TWO, False, "[BODY].x (INVALID) == 1"),
        # No answer: nothing equals, so "!=" holds, as Gatus compared an empty body.
        case(
            "[BODY] == 192.0.2.1",
            dns("A", rcode="NXDOMAIN"),
            False,
            "[BODY] ([]) == 192.0.2.1",
        ),
        case("[BODY] != 192.0.2.1", dns("A", rcode="NXDOMAIN"), True),
        case("has([BODY]) == false", dns("A", rcode="NXDOMAIN"), True),
        case("len([BODY]) == 0", dns("A", rcode="NXDOMAIN"), True),
    ],
)
def test_dns_body_is_the_values_of_the_answers(
    condition: str, observed: dict[str, Any], success: bool, description: str
) -> None:
    check(condition, observed, success, description)


def test_a_numeric_dns_body_orders_when_some_answer_does() -> None:
    assert judge("[BODY] > 5", **dns("TXT", "3", "9"))[0]
    assert not judge("[BODY] > 10", **dns("TXT", "3", "9"))[0]


# --- gRPC ---------------------------------------------------------------------------------


def grpc(status: str) -> dict[str, Any]:
    """What a gRPC probe observes: the health status, also as Gatus's JSON body."""
    return {"grpc_status": status, "body": {"status": status}, "status": None}


@pytest.mark.parametrize(
    ("condition", "observed", "success", "description"),
    [
        case("[BODY].status == SERVING", grpc("SERVING"), True),  # Gatus's way
        case(
            "[BODY].status == SERVING",
            grpc("NOT_SERVING"),
            False,
            "[BODY].status (NOT_SERVING) == SERVING",
        ),
        case("[GRPC_STATUS] == SERVING", grpc("SERVING"), True),
        case(
            "[GRPC_STATUS] == SERVING",
            grpc("SERVICE_UNKNOWN"),
            False,
            "[GRPC_STATUS] (SERVICE_UNKNOWN) == SERVING",
        ),
        case("[GRPC_STATUS] != any(NOT_SERVING, UNKNOWN)", grpc("SERVING"), True),
        case(
            "[GRPC_STATUS] == SERVING",
            {"grpc_status": None},
            False,
            "[GRPC_STATUS] (INVALID) == SERVING",
        ),
    ],
)
def test_grpc_health_status_is_in_the_body_and_its_own_placeholder(
    condition: str, observed: dict[str, Any], success: bool, description: str
) -> None:
    check(condition, observed, success, description)
