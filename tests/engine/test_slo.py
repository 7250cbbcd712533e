"""SLO maths: SLI, error budget, burn rates, status, and good latency events from a sketch."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from statpulse.engine.sketch import LatencySketch
from statpulse.engine.slo import Events, SloState, burn_rate, evaluate, latency_good, met

MONTH = 30 * 24 * 60.0  # minutes in a 30-day window
NONE = Events(0, 0)


@pytest.mark.parametrize(
    ("target", "window", "sli", "consumed", "remaining_min", "status"),
    [
        # 99.9 % over 30 days allows 43.2 minutes; 1 bad in 10,000 spends a tenth of it.
        (99.9, Events(9_999, 10_000), 99.99, 10.0, 38.88, SloState.OK),
        (99.9, Events(10_000, 10_000), 100.0, 0.0, 43.2, SloState.OK),
        # 8 bad in 10,000 spends 80 %: 20 % left is under the 25 % warning line.
        (99.9, Events(9_992, 10_000), 99.92, 80.0, 8.64, SloState.AT_RISK),
        # exactly the budget: met, nothing left.
        (99.0, Events(99, 100), 99.0, 100.0, 0.0, SloState.AT_RISK),
        (99.0, Events(98, 100), 98.0, 200.0, -432.0, SloState.BREACHED),
        (95.0, Events(97, 100), 97.0, 60.0, 864.0, SloState.OK),
    ],
)
def test_sli_and_error_budget(
    target: float,
    window: Events,
    sli: float,
    consumed: float,
    remaining_min: float,
    status: SloState,
) -> None:
    r = evaluate(target, MONTH, window, NONE, NONE)
    assert r.sli_pct == pytest.approx(sli)
    assert r.budget_total_pct == pytest.approx(100 - target)
    assert r.budget_consumed_pct == pytest.approx(consumed)
    assert r.budget_remaining_pct == pytest.approx(100 - consumed)
    assert r.budget_total_minutes == pytest.approx(MONTH * (100 - target) / 100)
    assert r.budget_remaining_minutes == pytest.approx(remaining_min)
    assert r.status is status


def test_no_checks_in_the_window_is_no_data() -> None:
    r = evaluate(99.9, MONTH, NONE, NONE, NONE)
    assert r.status is SloState.NO_DATA
    assert r.sli_pct is r.budget_consumed_pct is r.budget_remaining_minutes is None
    assert r.burn_rate_1h is r.burn_rate_6h is None
    assert r.budget_total_minutes == pytest.approx(43.2)


@pytest.mark.parametrize(
    ("last_1h", "last_6h", "burn_1h", "burn_6h", "status"),
    [
        (Events(1000, 1000), Events(6000, 6000), 0.0, 0.0, SloState.OK),
        # 1 bad in 1000 is exactly the 99.9 % budget's pace: burn rate 1.
        (Events(999, 1000), Events(5994, 6000), 1.0, 1.0, SloState.OK),
        # fast burn: 14.4 over an hour pages even with most of the month's budget left.
        (Events(9856, 10000), Events(6000, 6000), 14.4, 0.0, SloState.AT_RISK),
        (Events(1000, 1000), Events(5964, 6000), 0.0, 6.0, SloState.AT_RISK),
        (NONE, NONE, None, None, SloState.OK),
    ],
)
def test_burn_rates_over_one_and_six_hours(
    last_1h: Events,
    last_6h: Events,
    burn_1h: float | None,
    burn_6h: float | None,
    status: SloState,
) -> None:
    r = evaluate(99.9, MONTH, Events(999_990, 1_000_000), last_1h, last_6h)
    assert r.burn_rate_1h == (pytest.approx(burn_1h) if burn_1h is not None else None)
    assert r.burn_rate_6h == (pytest.approx(burn_6h) if burn_6h is not None else None)
    assert r.status is status


@pytest.mark.parametrize(("target", "minutes"), [(0, MONTH), (100, MONTH), (-1, MONTH), (99.9, 0)])
def test_evaluate_rejects_targets_outside_0_100_and_empty_windows(
    target: float, minutes: float
) -> None:
    with pytest.raises(ValueError, match="must be"):
        evaluate(target, minutes, NONE, NONE, NONE)


def test_events_reject_more_good_than_total() -> None:
    with pytest.raises(ValueError, match="good <= total"):
        Events(3, 2)


def test_met_compares_sli_with_target() -> None:
    assert met(99.95, 99.9) is True
    assert met(99.9, 99.9) is True
    assert met(99.8, 99.9) is False
    assert met(None, 99.9) is None


@pytest.mark.parametrize(
    ("values", "threshold", "good"),
    [
        ([100.0, 200.0, 250.0], 300.0, 3),  # all below: exact
        ([400.0, 500.0], 300.0, 0),  # all above: exact
        ([100.0, 290.0, 310.0, 1000.0], 300.0, 2),
        ([300.0, 300.0, 301.0], 300.0, 3),  # 301 shares the threshold's ~2 % bucket
        ([], 300.0, 0),
    ],
)
def test_latency_good_counts_values_within_threshold(
    values: list[float], threshold: float, good: int
) -> None:
    assert latency_good(LatencySketch.of(values), threshold) == good


latencies = st.lists(st.floats(0.05, 60_000), max_size=60)


@given(latencies, st.floats(0.05, 60_000))
def test_latency_good_never_undercounts_and_overcounts_only_within_2_percent(
    values: list[float], threshold: float
) -> None:
    good = latency_good(LatencySketch.of(values), threshold)
    assert (
        sum(v <= threshold for v in values) <= good <= sum(v <= threshold * 1.0203 for v in values)
    )


@given(
    st.floats(50, 99.99),
    st.integers(0, 10_000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
    st.integers(1, 10_000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
)
def test_budget_accounting_is_consistent(
    target: float, window: tuple[int, int], recent: tuple[int, int]
) -> None:
    events, last = Events(*window), Events(*recent)
    r = evaluate(target, MONTH, events, last, last)
    if events.total == 0:
        assert r.status is SloState.NO_DATA
        return
    assert r.sli_pct is not None and r.budget_remaining_pct is not None
    assert r.budget_consumed_pct is not None and r.budget_remaining_minutes is not None
    assert r.budget_consumed_pct + r.budget_remaining_pct == pytest.approx(100)
    assert r.budget_remaining_minutes == pytest.approx(
        r.budget_total_minutes * r.budget_remaining_pct / 100
    )
    # breached exactly when the budget is overspent (up to float rounding at the boundary)
    assert (r.status is SloState.BREACHED) == (r.sli_pct < target)
    if r.status is SloState.BREACHED:
        assert r.budget_remaining_pct <= 1e-6
    assert burn_rate(last, 1 - target / 100) == r.burn_rate_1h
