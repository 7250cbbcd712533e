"""TLS placeholders: certificate expiration (also in days), issuer, subject, SANs, validity."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from statpulse.conditions import evaluate
from statpulse.model import TlsInfo
from tests.conditions.helpers import NOW, case, certificate, check, judge, observe

DAY = timedelta(days=1)

# --- [CERTIFICATE_EXPIRATION] -------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "expires_in", "success"),
    [
        ("[CERTIFICATE_EXPIRATION] > 48h", 3 * DAY, True),
        ("[CERTIFICATE_EXPIRATION] > 48h", DAY, False),
        ("[CERTIFICATE_EXPIRATION] > 30d", 31 * DAY, True),
        ("[CERTIFICATE_EXPIRATION] > 30d", 29 * DAY, False),
        ("[CERTIFICATE_EXPIRATION] > 7d", 7 * DAY + timedelta(milliseconds=1), True),
        ("[CERTIFICATE_EXPIRATION] > 7d", 7 * DAY, False),
        ("[CERTIFICATE_EXPIRATION] >= 7d", 7 * DAY, True),
        ("[CERTIFICATE_EXPIRATION] > 1d12h", 36 * timedelta(hours=1) + timedelta(seconds=1), True),
        ("[CERTIFICATE_EXPIRATION] > 2419200000", 60 * DAY, True),  # Gatus: ms as a number
        ("[CERTIFICATE_EXPIRATION] > 2419200000", 14 * DAY, False),
        ("[CERTIFICATE_EXPIRATION] > 0", -DAY, False),
        ("[CERTIFICATE_EXPIRATION] < 0s", -DAY, True),
        ("[CERTIFICATE_EXPIRATION] > 30d", 365_000 * DAY, True),  # past Go's int64 durations
    ],
)
def test_certificate_expiration_is_the_time_left_in_milliseconds(
    condition: str, expires_in: timedelta, success: bool
) -> None:
    assert judge(condition, tls=certificate(expires_in=expires_in))[0] is success


@pytest.mark.parametrize(
    ("expires_in", "shown"),
    [
        (14 * DAY, "14d"),
        (DAY + timedelta(hours=2, minutes=3, seconds=4, milliseconds=5), "1d2h3m4.005s"),
        (timedelta(hours=5, milliseconds=250), "5h250ms"),
        (timedelta(microseconds=999), "0s"),
        (-2 * DAY, "-2d"),
        (-timedelta(milliseconds=1500), "-1.5s"),
    ],
)
def test_failed_expiration_condition_shows_the_time_left_as_a_duration(
    expires_in: timedelta, shown: str
) -> None:
    success, description = judge(
        "[CERTIFICATE_EXPIRATION] > 30d", tls=certificate(expires_in=expires_in)
    )
    assert (success, description) == (False, f"[CERTIFICATE_EXPIRATION] ({shown}) > 30d")


def test_expiration_is_measured_from_the_given_now() -> None:
    obs = observe(tls=certificate(expires_in=10 * DAY))
    assert evaluate("[CERTIFICATE_EXPIRATION] > 7d", obs, now=NOW).success
    assert not evaluate("[CERTIFICATE_EXPIRATION] > 7d", obs, now=NOW + 4 * DAY).success


def test_expiration_defaults_to_the_current_time() -> None:
    obs = observe(tls=certificate(expires_in=NOW.replace(year=2200) - NOW))
    assert evaluate("[CERTIFICATE_EXPIRATION] > 30d", obs).success


def test_naive_times_are_taken_as_utc() -> None:
    tls = certificate(not_after=NOW.replace(tzinfo=None) + 10 * DAY)
    result = evaluate(
        "[CERTIFICATE_EXPIRATION] > 7d", observe(tls=tls), now=NOW.replace(tzinfo=None)
    )
    assert result.success


@pytest.mark.parametrize("tls", [None, TlsInfo()], ids=["no-tls", "no-not-after"])
def test_expiration_is_unresolved_without_a_certificate(tls: TlsInfo | None) -> None:
    # Gatus read a missing certificate as 0: "[CERTIFICATE_EXPIRATION] < 48h" then passed.
    for condition in ("[CERTIFICATE_EXPIRATION] < 48h", "[CERTIFICATE_EXPIRATION] == 0"):
        success, description = judge(condition, tls=tls)
        assert not success
        assert description.startswith("[CERTIFICATE_EXPIRATION] (INVALID) ")


# --- Names, SANs, validity, version -------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "observed", "success", "description"),
    [
        case("[CERTIFICATE_ISSUER] == pat(*O=Let's Encrypt*)", {"tls": certificate()}, True),
        case(
            "[CERTIFICATE_ISSUER] == re(O=DigiCert)",
            {"tls": certificate()},
            False,
            "[CERTIFICATE_ISSUER] (CN=R11,O=Let's Encrypt,C=US) == re(O=DigiCert)",
        ),
        case("[CERTIFICATE_SUBJECT] == CN=example.com", {"tls": certificate()}, True),
        case(
            "[CERTIFICATE_SUBJECT] == CN=example.com",
            {"tls": None},
            False,
            "[CERTIFICATE_SUBJECT] (INVALID) == CN=example.com",
        ),
        case(
            "[CERTIFICATE_ISSUER] != x",
            {"tls": TlsInfo()},
            False,
            "[CERTIFICATE_ISSUER] (INVALID) != x",
        ),
        case("[CERTIFICATE_VALID] == true", {"tls": certificate()}, True),
        case(
            "[CERTIFICATE_VALID] == true",
            {"tls": certificate(chain_valid=False, verify_error="self-signed certificate")},
            False,
            "[CERTIFICATE_VALID] (false) == true",
        ),
        case(
            "[CERTIFICATE_VALID] == true",
            {"tls": certificate(hostname_valid=False)},
            False,
            "[CERTIFICATE_VALID] (false) == true",
        ),
        case(
            "[CERTIFICATE_VALID] == false",
            {"tls": None},
            False,
            "[CERTIFICATE_VALID] (INVALID) == false",
        ),
        case("[TLS_VERSION] == TLSv1.3", {"tls": certificate()}, True),
        case("[TLS_VERSION] == any(TLSv1.2, TLSv1.3)", {"tls": certificate()}, True),
        case(
            "[TLS_VERSION] != TLSv1.0",
            {"tls": certificate(version=None)},
            False,
            "[TLS_VERSION] (INVALID) != TLSv1.0",
        ),
    ],
)
def test_tls_facts_resolve_from_the_session(
    condition: str, observed: dict[str, Any], success: bool, description: str
) -> None:
    check(condition, observed, success, description)


SANS = {"tls": certificate(sans=("example.com", "*.example.com", "192.0.2.1"))}


@pytest.mark.parametrize(
    ("condition", "observed", "success", "description"),
    [
        case("[CERTIFICATE_SANS] == example.com", SANS, True),
        case("[CERTIFICATE_SANS] == *.example.com", SANS, True),
        case(
            "[CERTIFICATE_SANS] == example.org",
            SANS,
            False,
            '[CERTIFICATE_SANS] (["example.com","*.example.com","192.0.2.1"]) == example.org',
        ),
        case("[CERTIFICATE_SANS] != example.org", SANS, True),
        case(
            "[CERTIFICATE_SANS] != example.com",
            SANS,
            False,
            '[CERTIFICATE_SANS] (["example.com","*.example.com","192.0.2.1"]) != example.com',
        ),
        case("[CERTIFICATE_SANS] == pat(192.0.2.*)", SANS, True),
        case("[CERTIFICATE_SANS] != pat(*.internal)", SANS, True),
        case("[CERTIFICATE_SANS] == any(a.test, example.com)", SANS, True),
        case("[CERTIFICATE_SANS] == re(^\\*\\.)", SANS, True),
        case("example.com == [CERTIFICATE_SANS]", SANS, True),
        case("len([CERTIFICATE_SANS]) == 3", SANS, True),
        case("len([CERTIFICATE_SANS]) >= 1", SANS, True),
        case("has([CERTIFICATE_SANS]) == true", SANS, True),
        case("has([CERTIFICATE_SANS]) == false", {"tls": certificate(sans=())}, True),
        case("has([CERTIFICATE_SANS]) == false", {"tls": None}, True),
        case("[CERTIFICATE_SANS][1] == *.example.com", SANS, True),
        case("len([CERTIFICATE_SANS][2]) == 9", SANS, True),
        case("has([CERTIFICATE_SANS][3]) == false", SANS, True),
        case(
            "[CERTIFICATE_SANS][3] == x",
            SANS,
            False,
            "[CERTIFICATE_SANS][3] (INVALID) == x",
        ),
        case(
            "[CERTIFICATE_SANS] == pat(*)",
            {"tls": certificate(sans=())},
            False,
            "[CERTIFICATE_SANS] ([]) == pat(*)",
        ),
        case("[CERTIFICATE_SANS] != example.com", {"tls": certificate(sans=())}, True),
        case(
            "[CERTIFICATE_SANS] != example.com",
            {"tls": None},
            False,
            "[CERTIFICATE_SANS] (INVALID) != example.com",
        ),
        case(
            "len([CERTIFICATE_SANS]) > 0",
            {"tls": None},
            False,
            "len([CERTIFICATE_SANS]) (INVALID) > 0",
        ),
    ],
)
def test_a_list_matches_when_some_element_does(
    condition: str, observed: dict[str, Any], success: bool, description: str
) -> None:
    check(condition, observed, success, description)
