"""Heartbeat rules (pure): when silence or an unfinished run is a failure; what pings make."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from statpulse.engine.heartbeat import (
    MAX_MESSAGE_CHARS,
    PUSH_REGION,
    HeartbeatState,
    Signal,
    format_duration,
    overdue,
    overdue_result,
    ping_message,
    ping_result,
    signal_for_exit_code,
)
from statpulse.model import ErrorClass

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
MONITOR = uuid.UUID(int=1)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def state(**times: float | None) -> HeartbeatState:
    """Push state created at T0; keyword arguments are seconds after T0 (None: never)."""
    values: dict[str, Any] = {k: None if v is None else at(v) for k, v in times.items()}
    base = HeartbeatState(MONITOR, "t" * 32, T0, None, None, None, None, 0)
    return replace(base, **values)


@pytest.mark.parametrize(
    ("given_state", "now", "expected"),
    [
        # (state, now in seconds, (deadline in seconds, message) or None); interval 60, grace 60
        (state(), 119, None),
        (state(), 120, (120, "no ping for 2m (expected every 1m, grace 1m)")),
        (state(), 190, (180, "no ping for 3m 10s (expected every 1m, grace 1m)")),
        (state(last_success_at=30), 149, None),
        (state(last_success_at=30), 150, (150, "no ping for 2m (expected every 1m, grace 1m)")),
        # a fail ping is a completion too: silence is counted from it
        (state(last_success_at=30, last_fail_at=100), 219, None),
        (state(last_success_at=30, last_fail_at=100), 220, (220, "no ping for 2m")),
        # the failure for a deadline is written once; the next one is an interval later
        (state(last_overdue_at=120), 179, None),
        (state(last_overdue_at=120), 180, (180, "no ping for 3m")),
        # a long outage of the sweeper owes one failure, for the latest deadline
        (state(last_overdue_at=120), 1000, (960, "no ping for 16m 40s")),
        # a start must be followed by a completion within the grace
        (state(last_success_at=50, last_start_at=55), 114, None),
        (state(last_success_at=50, last_start_at=55), 115, (115, "started 1m ago, no comp")),
        (state(last_start_at=55, last_overdue_at=115), 120, (120, "no ping for 2m")),
        # a completed run leaves nothing pending
        (state(last_start_at=55, last_success_at=80), 139, None),
        # a start at the very moment of creation counts
        (state(last_start_at=0), 60, (60, "started 1m ago")),
        # silence since a resume: older pings and starts do not count
        (state(since_at=500, last_success_at=30, last_start_at=40), 619, None),
        (state(since_at=500, last_success_at=30, last_start_at=40), 620, (620, "no ping for 2m")),
    ],
)
def test_overdue_table(
    given_state: HeartbeatState, now: float, expected: tuple[float, str] | None
) -> None:
    due = overdue(given_state, at(now), interval_s=60, grace_s=60)
    if expected is None:
        assert due is None
    else:
        assert due is not None
        assert due.deadline == at(expected[0])
        assert due.message.startswith(expected[1])


def test_with_no_grace_a_started_run_is_overdue_at_once() -> None:
    due = overdue(state(last_start_at=10), at(10), interval_s=60, grace_s=0)
    assert due is not None and due.message == "started 0s ago, no completion ping"


def test_overdue_result_is_a_timeout_of_the_push_region() -> None:
    due = overdue(state(), at(125), interval_s=60, grace_s=60)
    assert due is not None
    result = overdue_result(MONITOR, due, at(125))
    assert (result.region, result.ok, result.error_class) == (
        PUSH_REGION,
        False,
        ErrorClass.TIMEOUT,
    )
    assert (result.scheduled_at, result.started_at, result.latency_ms) == (at(120), at(125), None)
    assert result.error_message == due.message


def test_a_success_after_a_start_carries_the_run_duration() -> None:
    result = ping_result(MONITOR, state(last_start_at=10), Signal.SUCCESS, at(52.5))
    assert result is not None and result.ok and result.latency_ms == 42_500
    assert result.started_at == at(52.5) and result.region == PUSH_REGION


def test_a_success_without_a_pending_start_has_no_latency() -> None:
    for given_state in (state(), state(last_start_at=10, last_success_at=20)):
        result = ping_result(MONITOR, given_state, Signal.SUCCESS, at(30))
        assert result is not None and result.ok and result.latency_ms is None


def test_a_fail_ping_is_a_failing_result_with_its_message() -> None:
    result = ping_result(MONITOR, state(), Signal.FAIL, at(30), "disk full")
    assert result is not None and not result.ok
    assert (result.error_class, result.error_message) == (ErrorClass.ASSERTION, "disk full")
    plain = ping_result(MONITOR, state(), Signal.FAIL, at(30))
    assert plain is not None and plain.error_message == "failure reported by ping"


def test_a_start_ping_makes_no_result() -> None:
    assert ping_result(MONITOR, state(), Signal.START, at(30)) is None


@pytest.mark.parametrize(
    ("code", "signal"), [(0, Signal.SUCCESS), (1, Signal.FAIL), (255, Signal.FAIL)]
)
def test_exit_status_maps_to_a_signal(code: int, signal: Signal) -> None:
    assert signal_for_exit_code(code) is signal


@pytest.mark.parametrize("code", [-1, 256])
def test_exit_status_outside_0_to_255_is_refused(code: int) -> None:
    with pytest.raises(ValueError, match="0-255"):
        signal_for_exit_code(code)


def test_ping_message_is_decoded_truncated_and_prefixed() -> None:
    assert ping_message(b"") is None
    assert ping_message(b"  \n") is None
    assert ping_message(b"", 3) == "exit status 3"
    assert ping_message(b"oops\n", 3) == "exit status 3: oops"
    assert ping_message(b"caf\xc3\xa9 \xff") == "café \ufffd"
    long = ping_message(b"x" * 20_000)
    assert long is not None and len(long) == MAX_MESSAGE_CHARS and long.endswith("…")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (0.9, "0s"), (-5, "0s"), (45, "45s"), (60, "1m"), (190, "3m 10s"),
     (3600, "1h"), (3605, "1h"), (3790, "1h 3m"), (86400 * 2 + 3600, "2d 1h")],
)  # fmt: skip
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(timedelta(seconds=seconds)) == text


intervals = st.integers(min_value=10, max_value=3600)
graces = st.integers(min_value=0, max_value=7200)
# Whole seconds: the rules compare datetimes, the checks below compare numbers.
offsets = st.lists(st.integers(min_value=0, max_value=50_000), min_size=1, max_size=40)


@given(interval=intervals, grace=graces, last_success=st.integers(0, 10_000), sweeps=offsets)
def test_a_silent_monitor_gets_one_failure_per_period_never_more(
    interval: int, grace: int, last_success: int, sweeps: list[int]
) -> None:
    """Sweeping at any times, applying each claim, writes exactly one failure per silence
    deadline some sweep saw passed, each deadline at least an interval after the previous."""
    current = state(last_success_at=last_success)
    first = last_success + interval + grace
    written: list[datetime] = []
    for offset in sorted(sweeps):
        now = at(last_success + offset)
        for _ in range(2):  # a second sweep at the same moment writes nothing
            due = overdue(current, now, interval, grace)
            if due is not None:
                assert due.deadline <= now
                written.append(due.deadline)
                current = replace(current, last_overdue_at=due.deadline)
    seen_periods = {
        int((last_success + o - first) // interval) for o in sweeps if last_success + o >= first
    }
    assert len(written) == len(seen_periods)
    assert all(b - a >= timedelta(seconds=interval) for a, b in itertools.pairwise(written))
    assert all(d >= at(first) for d in written)


@given(interval=intervals, grace=graces, silence=st.integers(0, 100_000))
def test_nothing_is_due_within_interval_and_grace_of_the_last_ping(
    interval: int, grace: int, silence: int
) -> None:
    current = state(last_success_at=100)
    due = overdue(current, at(100 + silence), interval, grace)
    assert (due is None) == (silence < interval + grace)


@given(
    interval=intervals,
    grace=graces,
    start=st.integers(0, 1000),
    completion=st.one_of(st.none(), st.integers(0, 1000)),
    now=st.integers(0, 5000),
)
def test_an_unfinished_run_is_due_exactly_after_its_grace(
    interval: int, grace: int, start: int, completion: int | None, now: int
) -> None:
    """With silence not yet overdue, a start is due at start + grace unless completed."""
    current = state(last_start_at=start, last_success_at=completion)
    base = completion or 0
    if now >= base + interval + grace:
        return  # the silence rule applies (tested above)
    due = overdue(current, at(now), interval, grace)
    pending = completion is None or start > completion  # since_at is 0: every start counts
    assert (due is not None) == (pending and now >= start + grace)
