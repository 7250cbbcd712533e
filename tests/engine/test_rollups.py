"""Rollup maths (pure): bucket alignment, merging, the range plan and the stats of rollups."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from statpulse.engine.rollup_query import Span, plan, summarize_rollups
from statpulse.engine.rollups import Resolution, Rollup, ceil_to, floor_to
from statpulse.engine.sketch import LatencySketch

T = datetime(2026, 11, 20, 23, 59, 59, 999_999, tzinfo=UTC)

instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
# Instants near bucket boundaries, where off-by-one errors live.
near_boundaries = st.builds(
    lambda day, hour, minute, us: (
        datetime(2026, 11, day, hour, minute, tzinfo=UTC) + timedelta(microseconds=us)
    ),
    st.integers(1, 30),
    st.sampled_from([0, 1, 23]),
    st.sampled_from([0, 1, 59]),
    st.sampled_from([-1, 0, 1, 59_999_999]),
)
any_instant = st.one_of(instants, near_boundaries)


@pytest.mark.parametrize(
    ("resolution", "floor", "ceil"),
    [
        (
            Resolution.MINUTE,
            datetime(2026, 11, 20, 23, 59, tzinfo=UTC),
            datetime(2026, 11, 21, tzinfo=UTC),
        ),
        (
            Resolution.HOUR,
            datetime(2026, 11, 20, 23, tzinfo=UTC),
            datetime(2026, 11, 21, tzinfo=UTC),
        ),
        (Resolution.DAY, datetime(2026, 11, 20, tzinfo=UTC), datetime(2026, 11, 21, tzinfo=UTC)),
    ],
)
def test_buckets_are_utc_minutes_hours_and_days(
    resolution: Resolution, floor: datetime, ceil: datetime
) -> None:
    assert floor_to(T, resolution) == floor
    assert ceil_to(T, resolution) == ceil
    assert ceil_to(ceil, resolution) == floor_to(ceil, resolution) == ceil


def test_buckets_of_other_time_zones_are_utc_buckets() -> None:
    local = T.astimezone(timezone(timedelta(hours=2)))  # already the 21st there
    assert floor_to(local, Resolution.DAY) == datetime(2026, 11, 20, tzinfo=UTC)
    assert plan(local, local + timedelta(days=1))[0].start.tzinfo is UTC


def test_a_rollup_counts_ok_degraded_and_downtime() -> None:
    rollup = Rollup()
    rollup.add(ok=True, degraded=False, latency_ms=10.0, interval_s=30)
    rollup.add(ok=True, degraded=True, latency_ms=None, interval_s=30)
    rollup.add(ok=False, degraded=False, latency_ms=5000.0, interval_s=30)  # time to fail
    rollup.add(ok=True, degraded=False, latency_ms=float("nan"), interval_s=30)  # left out
    assert (rollup.checks, rollup.ok, rollup.degraded, rollup.down_s) == (4, 3, 1, 30)
    assert rollup.sketch == LatencySketch.of([10.0])


@given(st.lists(st.tuples(st.booleans(), st.booleans(), st.floats(0, 1e5)), max_size=30), st.data())
def test_merging_rollups_equals_rolling_up_the_union(
    results: list[tuple[bool, bool, float]], data: st.DataObject
) -> None:
    cut = data.draw(st.integers(0, len(results)))
    whole, left, right = Rollup(), Rollup(), Rollup()
    for i, (ok, degraded, ms) in enumerate(results):
        for rollup in (whole, left if i < cut else right):
            rollup.add(ok=ok, degraded=degraded, latency_ms=ms, interval_s=60)
    assert Rollup.merged([right, left]) == whole


@given(any_instant, any_instant)
def test_the_plan_covers_the_range_exactly_once(a: datetime, b: datetime) -> None:
    start, end = min(a, b), max(a, b)
    spans = plan(start, end)
    if start == end:
        assert spans == []
        return
    assert spans[0].start == start and spans[-1].end == end
    for before, after in itertools.pairwise(spans):
        assert before.end == after.start  # no gap, no overlap
    for span in spans:
        assert span.start < span.end
        if span.source is None:  # no whole minute inside a raw span
            assert span.end - span.start < timedelta(minutes=2)
            assert ceil_to(span.start, Resolution.MINUTE) + Resolution.MINUTE.step > span.end
        else:
            assert floor_to(span.start, span.source) == span.start
            assert floor_to(span.end, span.source) == span.end


@given(any_instant, any_instant)
def test_the_plan_reads_few_rows(a: datetime, b: datetime) -> None:
    spans = plan(min(a, b), max(a, b))
    by_source: dict[Resolution | None, list[Span]] = {}
    for span in spans:
        by_source.setdefault(span.source, []).append(span)
    assert all(len(found) <= 2 for found in by_source.values())
    assert len(by_source.get(Resolution.DAY, [])) <= 1
    # Edges of a coarser level are shorter than one of its buckets.
    for finer, coarser in [(Resolution.MINUTE, Resolution.HOUR), (Resolution.HOUR, Resolution.DAY)]:
        if coarser in by_source:
            assert all(s.end - s.start < coarser.step for s in by_source.get(finer, []))


def test_a_plan_of_a_ragged_day_uses_every_source() -> None:
    start = datetime(2026, 11, 19, 22, 58, 30, tzinfo=UTC)
    end = datetime(2026, 11, 21, 1, 1, 15, tzinfo=UTC)
    assert [
        (s.source, s.start.time().isoformat(), s.end.time().isoformat()) for s in plan(start, end)
    ] == [
        (None, "22:58:30", "22:59:00"),
        (Resolution.MINUTE, "22:59:00", "23:00:00"),
        (Resolution.HOUR, "23:00:00", "00:00:00"),
        (Resolution.DAY, "00:00:00", "00:00:00"),
        (Resolution.HOUR, "00:00:00", "01:00:00"),
        (Resolution.MINUTE, "01:00:00", "01:01:00"),
        (None, "01:01:00", "01:01:15"),
    ]


def test_plan_rejects_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="aware"):
        plan(datetime(2026, 1, 1), datetime(2026, 1, 2))


def test_summarized_rollups_average_downtime_over_regions() -> None:
    eu, us = Rollup(), Rollup()
    for ms in (10.0, 20.0, 30.0):
        eu.add(ok=True, degraded=False, latency_ms=ms, interval_s=60)
    us.add(ok=False, degraded=False, latency_ms=None, interval_s=60)
    overall, regions = summarize_rollups({"us": us, "eu": eu, "ap": Rollup()})
    assert list(regions) == ["eu", "us"]  # sorted; a region without checks is left out
    assert (overall.checks, overall.ok, overall.uptime_pct) == (4, 3, 75.0)
    assert overall.p50_ms == pytest.approx(20.0, rel=0.01)
    assert (overall.downtime_s, regions["eu"].downtime_s, regions["us"].downtime_s) == (30, 0, 60)
    assert regions["us"].p50_ms is None


def test_summarized_empty_rollups_have_no_numbers() -> None:
    overall, regions = summarize_rollups({})
    assert regions == {}
    assert (overall.checks, overall.uptime_pct, overall.p95_ms, overall.downtime_s) == (
        0,
        None,
        None,
        None,
    )
