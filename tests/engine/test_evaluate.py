"""Region thresholds and the regional quorum (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from statpulse.engine.evaluate import quorum, required_streak, stale_after, step
from statpulse.model import CheckResult, RegionState, Status, new_id

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
MONITOR = new_id()
U, D, X = Status.UP, Status.DEGRADED, Status.DOWN


def outcome(level: Status, at: datetime) -> CheckResult:
    return CheckResult(
        id=new_id(),
        monitor_id=MONITOR,
        region="eu",
        scheduled_at=at,
        started_at=at,
        latency_ms=10.0,
        ok=level is not X,
        degraded=level is D,
        error_message=None if level is U else "bad",
    )


def run(levels: list[Status], failure: int = 2, recovery: int = 1) -> list[Status]:
    state = None
    seen = []
    for i, level in enumerate(levels):
        state = step(state, outcome(level, NOW + timedelta(seconds=i)), failure, recovery)
        seen.append(state.status)
    return seen


@pytest.mark.parametrize(
    ("levels", "failure", "recovery", "expected"),
    [
        ([U], 2, 1, [U]),
        ([X], 2, 1, [Status.UNKNOWN]),
        ([X, X], 2, 1, [Status.UNKNOWN, X]),
        ([U, X, U, X, X], 2, 1, [U, U, U, U, X]),
        ([U, X, X, X], 3, 1, [U, U, U, X]),
        ([X, X, U], 2, 1, [Status.UNKNOWN, X, U]),
        ([X, X, U, U], 2, 2, [Status.UNKNOWN, X, X, U]),
        ([X, X, U, X, U, U], 2, 2, [Status.UNKNOWN, X, X, X, X, U]),
        ([D], 2, 1, [D]),
        ([U, D, D], 2, 1, [U, U, D]),
        ([U, D, U, D], 2, 1, [U, U, U, U]),
        ([D, U], 2, 1, [D, U]),
        ([D, X, X], 2, 1, [D, D, X]),
        ([X], 1, 1, [X]),
    ],
)
def test_region_status_follows_thresholds(
    levels: list[Status], failure: int, recovery: int, expected: list[Status]
) -> None:
    assert run(levels, failure, recovery) == expected


def test_region_state_keeps_the_last_error_until_recovery() -> None:
    state = step(None, outcome(X, NOW), 1, 1)
    assert state.last_error == "bad"
    assert step(state, outcome(U, NOW + timedelta(seconds=1)), 1, 1).last_error is None


def test_getting_worse_needs_the_failure_threshold() -> None:
    assert required_streak(U, X, 3, 2) == 3
    assert required_streak(X, U, 3, 2) == 2
    assert required_streak(Status.UNKNOWN, U, 3, 2) == 1


def region(status: Status, age_s: float = 0, name: str = "r") -> RegionState:
    return RegionState(MONITOR, name, status, status, 1, NOW - timedelta(seconds=age_s))


STALE = stale_after(10)


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([], Status.UNKNOWN),
        ([U], U),
        ([X], X),
        ([U, X], D),
        ([X, X], X),
        ([U, U, X], D),
        ([U, X, X], X),
        ([U, U, X, X], D),
        ([U, X, X, X], X),
        ([U, D], D),
        ([Status.UNKNOWN, X], X),
        ([Status.UNKNOWN], Status.UNKNOWN),
    ],
)
def test_monitor_is_down_only_when_more_than_half_of_regions_fail(
    statuses: list[Status], expected: Status
) -> None:
    states = [region(s, name=f"r{i}") for i, s in enumerate(statuses)]
    assert quorum(states, NOW, STALE) is expected


def test_stale_regions_do_not_vote() -> None:
    states = [region(U, age_s=1), region(X, age_s=3600, name="old"), region(X, 3600, "older")]
    assert quorum(states, NOW, STALE) is U


@given(st.lists(st.booleans(), min_size=1, max_size=9))
def test_quorum_property_down_iff_failing_more_than_half(failing: list[bool]) -> None:
    states = [region(X if f else U, name=f"r{i}") for i, f in enumerate(failing)]
    result = quorum(states, NOW, STALE)
    assert (result is X) == (sum(failing) * 2 > len(failing))
    assert (result is U) == (not any(failing))
