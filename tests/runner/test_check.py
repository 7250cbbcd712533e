"""Judging an observation: probe errors, failing conditions, latency-only conditions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from statpulse.model import CheckSpec, ErrorClass, Observation, new_id
from statpulse.runner.check import judge

AT = datetime(2026, 11, 23, tzinfo=UTC)


def spec(*conditions: str, kind: str = "http") -> CheckSpec:
    return CheckSpec(new_id(), kind, "http://127.0.0.1/", 10, 5, conditions=conditions)


def seen(
    status: int | None = 200, latency: float = 120.0, body: bytes = b'{"ok": true}'
) -> Observation:
    return Observation(
        connected=status is not None, latency_ms=latency, status_code=status, body=body
    )


def run(s: CheckSpec, obs: Observation):  # type: ignore[no-untyped-def]
    return judge(s, obs, region="eu", scheduled_at=AT, started_at=AT)


def test_default_http_condition_accepts_any_status_below_400() -> None:
    assert run(spec(), seen(302)).ok
    result = run(spec(), seen(500))
    assert not result.ok and result.error_class is ErrorClass.HTTP_STATUS
    assert result.error_message == "[STATUS] (500) < 400"


def test_default_tcp_condition_needs_a_connection() -> None:
    assert run(spec(kind="tcp"), Observation(connected=True, latency_ms=1.0)).ok


def test_a_probe_error_fails_with_its_class() -> None:
    obs = Observation(
        connected=False, latency_ms=5.0, error_class=ErrorClass.CONNECT, error_message="refused"
    )
    result = run(spec("[STATUS] == 200"), obs)
    assert (result.ok, result.error_class, result.error_message) == (
        False,
        ErrorClass.CONNECT,
        "refused",
    )


def test_a_failing_body_condition_is_an_assertion_failure() -> None:
    result = run(spec("[STATUS] == 200", "[BODY].ok == false"), seen())
    assert not result.ok and result.error_class is ErrorClass.ASSERTION
    assert result.error_message == "[BODY].ok (true) == false"


@pytest.mark.parametrize("condition", ["[STATUS] == 200", "[status] == 200"])
def test_a_failing_status_condition_is_an_http_status_failure(condition: str) -> None:
    assert run(spec(condition), seen(503)).error_class is ErrorClass.HTTP_STATUS


def test_a_failing_latency_condition_only_degrades() -> None:
    result = run(spec("[STATUS] == 200", "[RESPONSE_TIME] < 100"), seen(latency=250))
    assert result.ok and result.degraded and result.error_class is None
    assert result.error_message == "[RESPONSE_TIME] (250) < 100"


def test_a_hard_failure_wins_over_a_latency_failure() -> None:
    result = run(spec("[STATUS] == 200", "[RESPONSE_TIME] < 100"), seen(500, latency=250))
    assert not result.ok and not result.degraded
    assert result.error_message == "[STATUS] (500) == 200"


def test_the_result_keeps_the_probe_facts() -> None:
    s = spec()
    result = run(s, seen(204, latency=42.5))
    assert (result.monitor_id, result.region, result.status_code, result.latency_ms) == (
        s.monitor_id,
        "eu",
        204,
        42.5,
    )
    assert result.id.version == 7 and result.scheduled_at == AT
