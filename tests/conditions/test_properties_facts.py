"""Properties of the extensions: every fact, '||', lists, re(), expiration, latency_only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from statpulse.conditions import evaluate, evaluate_all, parse
from statpulse.model import DnsInfo, Observation, Phases, RedirectHop, TlsInfo
from tests.conditions.helpers import NOW, certificate, judge, observe
from tests.conditions.test_properties import BODIES, PLAIN, error_position

EVERY_FACT = [
    "[HEADERS].Content-Type == pat(application/json*)",
    "has([HEADERS].X-A) == true",
    "len([header].x-a) > 2",
    "[HTTP_VERSION] >= 2",
    "[REDIRECTS] < 3",
    "[DNS_TIME] < 5 || [CONNECT_TIME] < 5ms || [TLS_TIME] <= 1s",
    "[FIRST_BYTE_TIME] > [TLS_TIME]",
    "[CERTIFICATE_EXPIRATION] > 30d",
    "[CERTIFICATE_EXPIRATION] < 1h || [CERTIFICATE_VALID] == true",
    "[CERTIFICATE_ISSUER] == re((?i)encrypt)",
    "[CERTIFICATE_SUBJECT] != CN=x",
    "[CERTIFICATE_SANS] == pat(*.example.com)",
    "[CERTIFICATE_SANS][0] > 1",
    "len([CERTIFICATE_SANS]) > 0",
    "[TLS_VERSION] == any(TLSv1.2, TLSv1.3)",
    "[DNS_RCODE] == NOERROR",
    "[DNS_ANSWERS] == re(^10 )",
    "[BODY] == 192.0.2.1 || [BODY][0] == x || len([BODY]) > 1",
    "[BODY] > 5",
    "[GRPC_STATUS] == SERVING || [BODY].status == SERVING",
    "[BODY] == re((a+)+$)",
]
TEXT = st.text(max_size=20)
MS = st.none() | st.floats()
MOMENTS = st.none() | st.datetimes(timezones=st.just(UTC)) | st.datetimes()
TLS = st.none() | st.builds(
    TlsInfo,
    version=st.none() | TEXT,
    not_before=MOMENTS,
    not_after=MOMENTS,
    issuer=TEXT,
    subject=TEXT,
    sans=st.lists(TEXT, max_size=3).map(tuple),
    chain_valid=st.booleans(),
    hostname_valid=st.booleans(),
)
DNS = st.none() | st.builds(
    DnsInfo,
    record_type=st.sampled_from(["A", "AAAA", "CNAME", "MX", "NS", "TXT", "mx", "SRV"]),
    rcode=TEXT,
    answers=st.lists(TEXT | st.from_regex(r"\A[0-9]+\s+\S*\Z"), max_size=3).map(tuple),
)


@settings(deadline=None, max_examples=200)
@given(
    body=BODIES,
    headers=st.dictionaries(TEXT, TEXT, max_size=3),
    phases=st.builds(Phases, dns_ms=MS, connect_ms=MS, tls_ms=MS, first_byte_ms=MS),
    tls=TLS,
    dns=DNS,
    redirects=st.integers(0, 3),
    http_version=st.none() | TEXT,
    grpc_status=st.none() | TEXT,
    now=st.datetimes(timezones=st.just(UTC)) | st.datetimes(),
)
def test_evaluate_never_raises_whatever_the_facts(
    body: bytes,
    headers: dict[str, str],
    phases: Phases,
    tls: TlsInfo | None,
    dns: DnsInfo | None,
    redirects: int,
    http_version: str | None,
    grpc_status: str | None,
    now: datetime,
) -> None:
    obs = Observation(
        True,
        1.0,
        phases=phases,
        headers=headers,
        body=body,
        tls=tls,
        dns=dns,
        redirects=(RedirectHop("u", 301, "l"),) * redirects,
        http_version=http_version,
        grpc_status=grpc_status,
    )
    results = evaluate_all(EVERY_FACT, obs, now=now)
    assert [r.condition for r in results] == EVERY_FACT


SOUP = st.lists(
    st.sampled_from(
        [
            "[STATUS]",
            "==",
            "!=",
            "<",
            "||",
            "&&",
            "or",
            "re(",
            "regex(",
            "pat(",
            "any(",
            "len(",
            "has(",
            "(",
            ")",
            "\\",
            "[HEADERS]",
            ".X",
            "[CERTIFICATE_SANS]",
            "[0]",
            "[DNS_ANSWERS]",
            "[BODY]",
            ".a",
            "200",
            "1d",
            "30d",
            "a+",
            "[",
            "]",
            "*",
            "?",
            ",",
            "$",
            "|",
        ]
    ),
    max_size=10,
)


@given(parts=SOUP, glue=st.sampled_from([" ", ""]))
def test_parse_of_any_token_soup_raises_only_condition_errors(parts: list[str], glue: str) -> None:
    text = glue.join(parts)
    assert 0 <= error_position(text) <= len(text)
    assert evaluate(text, observe(), now=NOW).condition == text


@given(status=st.integers(100, 599), a=st.integers(100, 599), b=st.integers(100, 599))
def test_or_holds_exactly_when_some_alternative_holds(status: int, a: int, b: int) -> None:
    left, right = f"[STATUS] == {a}", f"[STATUS] < {b}"
    expected = judge(left, status=status)[0] or judge(right, status=status)[0]
    success, description = judge(f"{left} || {right}", status=status)
    assert success is expected
    if not success:
        assert description == f"[STATUS] ({status}) == {a} || [STATUS] ({status}) < {b}"


@given(sans=st.lists(PLAIN, max_size=4), name=PLAIN)
def test_list_equals_a_value_when_some_element_does(sans: list[str], name: str) -> None:
    tls = certificate(sans=tuple(sans))
    assert judge(f"[CERTIFICATE_SANS] == {name}", tls=tls)[0] is (name != "" and name in sans)
    assert judge(f"[CERTIFICATE_SANS] != {name}", tls=tls)[0] is (name != "" and name not in sans)


@given(value=st.text(), needle=PLAIN)
def test_re_of_a_plain_needle_matches_when_the_value_contains_it(value: str, needle: str) -> None:
    condition = f"[BODY].v == re({needle})"
    assert judge(condition, body={"v": value})[0] is (needle in value)


@given(seconds=st.integers(-(10**9), 10**9), days=st.integers(0, 10_000))
def test_expiration_exceeds_n_days_when_more_time_is_left(seconds: int, days: int) -> None:
    left = timedelta(seconds=seconds)
    tls = certificate(expires_in=left)
    assert judge(f"[CERTIFICATE_EXPIRATION] > {days}d", tls=tls)[0] is (left > timedelta(days))


TIMED = ["[RESPONSE_TIME] < 1", "[DNS_TIME] < 1", "[FIRST_BYTE_TIME] < 1"]
UNTIMED = ["[STATUS] == 200", "[CERTIFICATE_EXPIRATION] > 1d", "1 == 1", "len([BODY]) > 0"]


@given(st.lists(st.sampled_from(TIMED + UNTIMED), min_size=1, max_size=4))
def test_or_is_latency_only_when_every_alternative_is(alternatives: list[str]) -> None:
    condition = parse(" || ".join(alternatives))
    assert condition.latency_only is all(a in TIMED for a in alternatives)
