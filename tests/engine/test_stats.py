"""Uptime and percentile maths against known data."""

from __future__ import annotations

import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from statpulse.engine.stats import percentile, summarize, summarize_by_region
from statpulse.model import LatencySample


def test_percentiles_interpolate_between_ranks() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 95) == pytest.approx(95.05)
    assert percentile(values, 99) == pytest.approx(99.01)
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 100.0
    assert percentile([], 50) is None
    assert percentile([7.0], 99) == 7.0


def test_percentile_rejects_out_of_range_q() -> None:
    with pytest.raises(ValueError, match="out of range"):
        percentile([1.0], 101)


@given(st.lists(st.floats(0, 1e6), min_size=2, max_size=200))
def test_median_matches_statistics_module(values: list[float]) -> None:
    assert percentile(sorted(values), 50) == pytest.approx(statistics.median(values), abs=1e-6)


def test_uptime_counts_ok_results_and_percentiles_ignore_failures() -> None:
    samples = [LatencySample("eu", True, float(ms)) for ms in (100, 200, 300)]
    samples.append(LatencySample("eu", False, 10_000.0))
    s = summarize(samples)
    assert (s.checks, s.ok, s.uptime_pct) == (4, 3, 75.0)
    assert s.p50_ms == 200.0
    assert s.p99_ms == pytest.approx(298.0)


def test_stats_are_split_by_region() -> None:
    samples = [
        LatencySample("us", True, 50.0),
        LatencySample("eu", False, None),
        LatencySample("eu", True, 150.0),
    ]
    overall, regions = summarize_by_region(samples)
    assert overall.checks == 3
    assert list(regions) == ["eu", "us"]
    assert regions["eu"].uptime_pct == 50.0 and regions["us"].p50_ms == 50.0


def test_no_samples_give_no_numbers() -> None:
    s = summarize([])
    assert (s.checks, s.uptime_pct, s.p50_ms) == (0, None, None)
