"""Template drafts: one wording per failure kind, regions and start time stated, impact by the
documented rule, and nothing technical copied into the customer text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from statpulse.engine.narrative import TITLE_MAX, Evidence, Kind, classify, draft
from statpulse.model import ErrorClass

T = datetime(2026, 11, 23, 14, 3, 27, tzinfo=UTC)
LEAKY = "[Errno 111] Connect call failed ('10.0.3.7', 8443) db-7.internal.acme.local"


def evidence(
    error_class: ErrorClass | None,
    message: str = LEAKY,
    *,
    status_code: int | None = None,
    regions: tuple[str, ...] = ("eu-central-1", "us-east-1", "ap-south-1"),
    total: int = 5,
    components: tuple[str, ...] = ("Checkout API",),
    degraded: bool = False,
    critical: bool = False,
    failed_condition: str | None = None,
) -> Evidence:
    return Evidence(
        components=components,
        affected_regions=regions,
        total_regions=total,
        error_class=error_class,
        started_at=T,
        status_code=status_code,
        message=message,
        failed_condition=failed_condition,
        degraded=degraded,
        critical=critical,
    )


@pytest.mark.parametrize(
    ("ev", "kind", "title", "phrase"),
    [
        (
            evidence(
                ErrorClass.DNS, "DNS lookup failed for api.acme.io: name or service not known"
            ),
            Kind.DNS,
            "Checkout API unreachable: domain name not resolving in some regions",
            "Checkout API cannot be reached because its domain name is not resolving.",
        ),
        (
            evidence(ErrorClass.TLS, "certificate verify failed: certificate has expired"),
            Kind.TLS_EXPIRED,
            "Checkout API unreachable: expired security certificate in some regions",
            "cannot be reached securely because a security certificate has expired.",
        ),
        (
            evidence(ErrorClass.TLS, "TLS handshake failed: wrong version number"),
            Kind.TLS,
            "Checkout API unreachable: secure connection failures in some regions",
            "because secure (TLS) connections are failing.",
        ),
        (
            evidence(ErrorClass.TIMEOUT, "timed out after 10.0 s while connecting"),
            Kind.TIMEOUT,
            "Checkout API not responding in some regions",
            "Checkout API has not been responding in time.",
        ),
        (
            evidence(ErrorClass.HTTP_STATUS, "[STATUS] (503) == 200", status_code=503),
            Kind.HTTP_5XX,
            "Checkout API returning errors (HTTP 503) in some regions",
            "Checkout API has been returning errors (HTTP 503).",
        ),
        (
            evidence(ErrorClass.HTTP_STATUS, "[STATUS] (404) == 200", status_code=404),
            Kind.HTTP_4XX,
            "Checkout API rejecting requests (HTTP 404) in some regions",
            "Checkout API has been rejecting requests (HTTP 404).",
        ),
        (
            evidence(ErrorClass.CONNECT, "connection refused"),
            Kind.REFUSED,
            "Checkout API unreachable: connections refused in some regions",
            "cannot be reached because connections are being refused.",
        ),
        (
            evidence(ErrorClass.CONNECT, "connection reset by peer"),
            Kind.CONNECT,
            "Checkout API unreachable in some regions",
            "cannot be reached because connections are failing.",
        ),
        (
            evidence(ErrorClass.PROTOCOL, "invalid HTTP response: bad status line"),
            Kind.PROTOCOL,
            "Checkout API returning invalid responses in some regions",
            "has been returning invalid responses.",
        ),
        (
            evidence(ErrorClass.ASSERTION, '[BODY].status (down) == "ok"', status_code=200),
            Kind.ASSERTION,
            "Checkout API returning unexpected results in some regions",
            "has been responding but not returning the expected results.",
        ),
        (
            evidence(None, "[RESPONSE_TIME] (2300) < 500", degraded=True),
            Kind.DEGRADED,
            "Degraded performance of Checkout API in some regions",
            "has been experiencing degraded performance.",
        ),
        (
            evidence(ErrorClass.INTERNAL, "KeyError: 'x'"),
            Kind.UNKNOWN,
            "Checkout API experiencing problems in some regions",
            "has been experiencing problems.",
        ),
    ],
    ids=lambda v: v.value if isinstance(v, Kind) else "",
)
def test_each_failure_kind_has_its_own_customer_wording(
    ev: Evidence, kind: Kind, title: str, phrase: str
) -> None:
    d = draft(ev)
    assert classify(ev) is kind
    assert d.title == title
    assert phrase in d.body
    assert d.body.startswith("Since 14:03 UTC, ")
    assert "This affects 3 of 5 regions: eu-central-1, us-east-1, ap-south-1." in d.body
    assert d.body.endswith("We are investigating and will post an update within 30 minutes.")
    assert ev.message not in d.body


@pytest.mark.parametrize(
    ("ev", "kind"),
    [
        # The status code can come from the condition text alone.
        (evidence(None, "[STATUS] (502) == 200"), Kind.HTTP_5XX),
        (evidence(ErrorClass.HTTP_STATUS, "[STATUS] (429) == 200"), Kind.HTTP_4XX),
        # A status condition failing on a non-error code is an unexpected result.
        (evidence(ErrorClass.HTTP_STATUS, "", status_code=301), Kind.ASSERTION),
        # A body condition failing on a 5xx response: the server error explains it.
        (evidence(ErrorClass.ASSERTION, "", status_code=500), Kind.HTTP_5XX),
        (evidence(ErrorClass.TLS, "certificate expired on 2026-11-01"), Kind.TLS_EXPIRED),
        (evidence(ErrorClass.BLOCKED, "blocked by the egress policy"), Kind.UNKNOWN),
        (evidence(None, ""), Kind.UNKNOWN),
        (evidence(None, "", status_code=503), Kind.HTTP_5XX),
        # A condition's own text names the expected code, not the actual one.
        (evidence(ErrorClass.HTTP_STATUS, "", failed_condition="[STATUS] < 500"), Kind.ASSERTION),
        # An error class wins over the degraded flag.
        (evidence(ErrorClass.TIMEOUT, "", degraded=True), Kind.TIMEOUT),
    ],
)
def test_classification_refines_the_error_class_with_the_evidence(ev: Evidence, kind: Kind) -> None:
    assert classify(ev) is kind


def test_status_failure_without_a_known_code_reads_as_unexpected_results() -> None:
    d = draft(evidence(ErrorClass.HTTP_STATUS, "[STATUS] (5xx)", status_code=None))
    assert "responding but not returning the expected results" in d.body
    assert "HTTP" not in d.body


@pytest.mark.parametrize(
    ("affected", "total", "critical", "impact"),
    [
        (5, 5, False, "major"),
        (5, 5, True, "critical"),
        (3, 5, False, "major"),  # half or more
        (2, 4, False, "major"),
        (2, 5, True, "minor"),  # fewer than half, critical or not
        (1, 5, False, "minor"),
        (1, 1, False, "major"),
        (0, 0, False, "major"),  # no region information counts as all
        (4, 3, False, "major"),  # total never below the affected count
    ],
)
def test_impact_follows_the_share_of_failing_regions(
    affected: int, total: int, critical: bool, impact: str
) -> None:
    regions = tuple(f"r{i}" for i in range(affected))
    ev = evidence(ErrorClass.TIMEOUT, regions=regions, total=total, critical=critical)
    assert draft(ev).impact == impact


def test_degraded_performance_is_minor_even_in_every_critical_region() -> None:
    ev = evidence(None, degraded=True, regions=("a", "b"), total=2, critical=True)
    assert draft(ev).impact == "minor"


def test_all_regions_failing_says_all_regions_and_no_partial_title() -> None:
    d = draft(evidence(ErrorClass.DNS, regions=("a", "b", "c"), total=3))
    assert "This affects all regions." in d.body
    assert not d.title.endswith("in some regions")


def test_single_region_installation_does_not_mention_regions() -> None:
    d = draft(evidence(ErrorClass.DNS, regions=("local",), total=1))
    assert "region" not in d.body
    assert "local" not in d.body


def test_many_regions_are_listed_up_to_six_then_counted() -> None:
    regions = tuple(f"region-{i}" for i in range(9))
    d = draft(evidence(ErrorClass.TIMEOUT, regions=regions, total=12))
    assert (
        "9 of 12 regions: region-0, region-1, region-2, region-3, region-4, region-5, 3 more."
        in (d.body)
    )


def test_several_components_are_joined_and_take_plural_verbs() -> None:
    d = draft(evidence(ErrorClass.DNS, components=("API", "Dashboard", "Webhooks")))
    assert d.title.startswith("API, Dashboard and Webhooks unreachable")
    assert "API, Dashboard and Webhooks cannot be reached because their domain name" in d.body
    d = draft(evidence(ErrorClass.HTTP_STATUS, status_code=502, components=("API", "Webhooks")))
    assert "API and Webhooks have been returning errors (HTTP 502)." in d.body


def test_no_components_reads_as_our_service() -> None:
    d = draft(evidence(ErrorClass.TIMEOUT, components=()))
    assert d.title == "Service not responding in some regions"
    assert "Since 14:03 UTC, our service has not been responding in time." in d.body


def test_start_time_is_converted_to_utc() -> None:
    cet = timezone(timedelta(hours=1))
    ev = Evidence(("API",), ("a",), 1, ErrorClass.TIMEOUT, datetime(2026, 1, 1, 15, 3, tzinfo=cet))
    assert draft(ev).body.startswith("Since 14:03 UTC, ")


def test_long_component_names_are_shortened_to_fit_the_title() -> None:
    d = draft(evidence(ErrorClass.DNS, components=("X" * 300, "Payments", "Search")))
    assert len(d.title) <= TITLE_MAX
    assert d.title.endswith(
        "… and 2 other services unreachable: domain name not resolving in some regions"
    )


def test_markup_and_control_characters_in_names_are_removed() -> None:
    d = draft(evidence(ErrorClass.DNS, components=("<b>API</b>\n",), regions=("eu\x00-1",)))
    assert "<" not in d.title + d.body
    assert "\n" not in d.body
    assert "\x00" not in d.body


def test_the_next_update_interval_is_configurable() -> None:
    d = draft(evidence(ErrorClass.DNS), update_within_minutes=15)
    assert d.body.endswith("will post an update within 15 minutes.")


def test_internal_details_never_reach_the_customer_text() -> None:
    for error_class in [*ErrorClass, None]:
        ev = evidence(error_class, LEAKY, failed_condition="[BODY].db == 'db-7.internal'")
        d = draft(ev)
        for secret in ("10.0.3.7", "8443", "internal", "Errno", "[BODY]"):
            assert secret not in d.title + d.body, (error_class, secret)


# Names and regions come from an alphabet without '.', digits-only runs or brackets, so they
# cannot spell the internal details planted in the message by accident.
_names = st.text(st.characters(categories=["L", "Zs"]), max_size=60)
_leaks = st.sampled_from(
    [
        "10.0.3.7",
        "db-7.internal.acme.local",
        'Traceback (most recent call last):\n  File "/srv/app.py", line 3',
        "[Errno 111] Connect call failed ('127.0.0.1', 9)",
        "fd00:ec2::254",
    ]
)


@given(
    components=st.lists(_names, max_size=6).map(tuple),
    regions=st.lists(st.from_regex(r"[a-z]{2}-[a-z]{1,9}-[1-9]", fullmatch=True), max_size=8),
    extra=st.integers(0, 10),
    error_class=st.none() | st.sampled_from(ErrorClass),
    status_code=st.none() | st.integers(-1000, 1000),
    leak=_leaks,
    noise=st.text(max_size=40),
    started_at=st.datetimes(timezones=st.just(UTC)) | st.datetimes(),
    degraded=st.booleans(),
    critical=st.booleans(),
    condition=st.none() | st.text(max_size=40),
)
def test_any_evidence_gives_a_short_title_and_a_body_without_the_technical_message(
    components: tuple[str, ...],
    regions: list[str],
    extra: int,
    error_class: ErrorClass | None,
    status_code: int | None,
    leak: str,
    noise: str,
    started_at: datetime,
    degraded: bool,
    critical: bool,
    condition: str | None,
) -> None:
    message = f"{noise}{leak}"
    ev = Evidence(
        components=components,
        affected_regions=tuple(regions),
        total_regions=len(set(regions)) + extra,
        error_class=error_class,
        started_at=started_at,
        status_code=status_code,
        message=message,
        failed_condition=condition,
        degraded=degraded,
        critical=critical,
    )
    d = draft(ev)
    assert d.title.strip()
    assert len(d.title) <= TITLE_MAX
    assert d.body.strip()
    assert message not in d.body
    assert leak not in d.body
    assert leak not in d.title
    assert d.impact in ("minor", "major", "critical")
