from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from statpulse.engine.latency_window import (
    LatencyPolicy,
    LatencyWindow,
    add_sample,
    drop_old,
    evaluate,
    percentile,
)
from statpulse.model import Status

T0 = datetime(2026, 1, 1, tzinfo=UTC)
POLICY = LatencyPolicy(p95_ms=500, window_s=300, min_samples=5)


def filled(latencies: Sequence[float], policy: LatencyPolicy = POLICY) -> LatencyWindow:
    w = LatencyWindow()
    for i, ms in enumerate(latencies):
        w = add_sample(w, T0 + timedelta(seconds=i), ms, policy)
    return w


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([15, 20, 35, 40, 50], 5, 15),
        ([15, 20, 35, 40, 50], 30, 20),
        ([15, 20, 35, 40, 50], 40, 20),
        ([15, 20, 35, 40, 50], 50, 35),
        ([15, 20, 35, 40, 50], 100, 50),
        ([7], 99, 7),
        (list(range(1, 101)), 95, 95),
        (list(range(1, 101)), 99, 99),
    ],
)
def test_percentile_is_nearest_rank(values: list[float], q: float, expected: float) -> None:
    assert percentile(values, q) == expected


def test_percentile_of_no_samples_raises_naming_values() -> None:
    with pytest.raises(ValueError, match="values"):
        percentile([], 95)


def test_samples_added_out_of_order_are_kept_in_time_order() -> None:
    w = add_sample(LatencyWindow(), T0 + timedelta(seconds=5), 1, POLICY)
    w = add_sample(w, T0, 2, POLICY)
    assert [at for at, _ in w.samples] == [T0, T0 + timedelta(seconds=5)]


def test_window_keeps_only_the_newest_max_samples() -> None:
    w = filled([1, 2, 3, 4], LatencyPolicy(max_samples=3))
    assert [ms for _, ms in w.samples] == [2, 3, 4]


def test_drop_old_removes_samples_outside_the_window() -> None:
    w = drop_old(filled([1, 2, 3]), T0 + timedelta(seconds=301), POLICY)
    assert [ms for _, ms in w.samples] == [3]


def test_too_few_samples_keep_the_previous_verdict() -> None:
    _, verdict = evaluate(filled([900] * 4), T0 + timedelta(seconds=4), POLICY)
    assert verdict.status is Status.UP
    assert verdict.p95_ms is None
    degraded = LatencyWindow(filled([1]).samples, degraded=True)
    assert evaluate(degraded, T0, POLICY)[1].status is Status.DEGRADED


def test_p95_above_threshold_is_degraded() -> None:
    w, verdict = evaluate(filled([100] * 18 + [900, 900]), T0 + timedelta(seconds=20), POLICY)
    assert verdict.status is Status.DEGRADED
    assert verdict.p95_ms == 900
    assert w.degraded


def test_p99_above_threshold_is_degraded() -> None:
    policy = LatencyPolicy(p99_ms=800, min_samples=5)
    _, verdict = evaluate(filled([100] * 99 + [900], policy), T0 + timedelta(seconds=99), policy)
    assert verdict.status is Status.UP
    _, verdict = evaluate(
        filled([100] * 98 + [900] * 2, policy), T0 + timedelta(seconds=99), policy
    )
    assert verdict.status is Status.DEGRADED


def test_p95_equal_to_threshold_is_not_degraded() -> None:
    _, verdict = evaluate(filled([500] * 10), T0 + timedelta(seconds=10), POLICY)
    assert verdict.status is Status.UP


def test_degraded_monitor_stays_degraded_between_ninety_percent_and_threshold() -> None:
    w = LatencyWindow(filled([460] * 10).samples, degraded=True)
    _, verdict = evaluate(w, T0 + timedelta(seconds=10), POLICY)
    assert verdict.status is Status.DEGRADED


def test_degraded_monitor_recovers_below_ninety_percent_of_threshold() -> None:
    w = LatencyWindow(filled([440] * 10).samples, degraded=True)
    w, verdict = evaluate(w, T0 + timedelta(seconds=10), POLICY)
    assert verdict.status is Status.UP
    assert not w.degraded


def test_no_thresholds_never_degrade() -> None:
    policy = LatencyPolicy(min_samples=1)
    _, verdict = evaluate(filled([10_000] * 5, policy), T0, policy)
    assert verdict.status is Status.UP


@given(
    st.lists(st.floats(min_value=0, max_value=1e6), min_size=1, max_size=200),
    st.floats(min_value=0.1, max_value=100),
)
def test_percentile_is_a_sample_with_enough_samples_at_or_below(
    values: list[float], q: float
) -> None:
    p = percentile(values, q)
    assert p in values
    assert sum(v <= p for v in values) >= math.ceil(q / 100 * len(values))


@given(st.lists(st.floats(min_value=0, max_value=2000), min_size=5, max_size=60))
def test_latencies_hovering_inside_the_hysteresis_band_never_flip(values: list[float]) -> None:
    band = [451 + v % 49 for v in values]  # strictly between 450 (0.9 * 500) and 500
    w = LatencyWindow(degraded=True)
    for i, ms in enumerate(band):
        w = add_sample(w, T0 + timedelta(seconds=i), ms, POLICY)
        w, verdict = evaluate(w, T0 + timedelta(seconds=i), POLICY)
        assert verdict.status is Status.DEGRADED
