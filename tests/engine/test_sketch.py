"""The mergeable latency sketch: accuracy, exact merging, encoding (pure)."""

from __future__ import annotations

import itertools
import math
import random
import struct
from collections.abc import Callable

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from statpulse.engine.sketch import (
    ALPHA,
    GAMMA,
    MAX_INDEX,
    MIN_INDEX,
    LatencySketch,
    bucket_index,
    bucket_value,
)
from statpulse.engine.stats import percentile

QS = (0.0, 0.001, 0.01, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0)
TOLERANCE = ALPHA * (1 + 1e-9)  # 1 %, plus float rounding at exact bucket boundaries

in_range = st.one_of(
    st.floats(min_value=0.01, max_value=600_000),
    st.floats(min_value=-2, max_value=5.778).map(lambda e: 10.0**e),  # log-uniform
    st.sampled_from([0.01, 1.0, 12.5, 100.0, 101.0, 250.0, 5000.0, 600_000.0]),
)
latencies = st.lists(in_range, min_size=1, max_size=300)
any_latencies = st.lists(
    st.one_of(in_range, st.floats(min_value=0, max_value=0.01), st.floats(6e5, 1e12)), max_size=50
)


def exact(sorted_values: list[float], q: float) -> float:
    """The module's rank rule on the raw data (``percentile_cont``)."""
    rank = q * (len(sorted_values) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (rank - low)


def assert_accurate(values: list[float], qs: tuple[float, ...] = QS) -> None:
    sketch = LatencySketch.of(values)
    ordered = sorted(values)
    for q in qs:
        estimate, truth = sketch.quantile(q), exact(ordered, q)
        assert estimate is not None
        assert abs(estimate - truth) <= TOLERANCE * truth, (q, estimate, truth)


def test_fixed_boundaries_cover_10_microseconds_to_10_minutes() -> None:
    assert GAMMA ** (MIN_INDEX - 1) < 0.01 <= GAMMA**MIN_INDEX
    assert GAMMA ** (MAX_INDEX - 1) < 600_000 <= GAMMA**MAX_INDEX
    assert (bucket_index(0.01), bucket_index(600_000)) == (MIN_INDEX, MAX_INDEX)
    assert bucket_index(1.0) == 0
    assert bucket_index(GAMMA**3 * 0.999) == 3
    assert bucket_index(GAMMA**3 * 1.001) == 4


@pytest.mark.parametrize(
    ("ms", "index"), [(0.0, MIN_INDEX), (1e-9, MIN_INDEX), (1e7, MAX_INDEX), (1e300, MAX_INDEX)]
)
def test_out_of_range_values_go_to_the_end_buckets(ms: float, index: int) -> None:
    assert bucket_index(ms) == index


@given(in_range)
def test_a_bucket_estimate_is_within_1_percent_of_its_values(ms: float) -> None:
    assert abs(bucket_value(bucket_index(ms)) - ms) <= TOLERANCE * ms


@given(latencies, st.lists(st.floats(0, 1), max_size=5))
@example([1.0, 2.0], [0.5])
def test_every_quantile_is_within_1_percent_of_the_exact_one(
    values: list[float], qs: list[float]
) -> None:
    assert_accurate(values, QS + tuple(qs))


def _lognormal(r: random.Random) -> float:
    return r.lognormvariate(math.log(120), 0.8)


def _bimodal(r: random.Random) -> float:
    return r.gauss(40, 3) if r.random() < 0.9 else r.gauss(900, 100)


@pytest.mark.parametrize(
    "draw",
    [
        _lognormal,
        _bimodal,
        lambda r: 0.01 + r.expovariate(1 / 80),
        lambda r: r.uniform(0.01, 600_000),
        lambda r: 10 ** r.uniform(-2, 5.778),
        lambda r: 250.0,
        lambda r: r.choice([12.0, 12.0, 13.0, 3000.0]),
    ],
)
def test_accuracy_on_distributions(draw: Callable[[random.Random], float]) -> None:
    r = random.Random(7)
    values = [min(600_000.0, max(0.01, draw(r))) for _ in range(2000)]
    assert_accurate(values, tuple(i / 1000 for i in range(1001)))


@given(latencies, st.floats(0, 1))
def test_rank_rule_is_that_of_stats_percentile(values: list[float], q: float) -> None:
    ordered = sorted(values)
    assert math.isclose(exact(ordered, q), percentile(ordered, 100 * q) or 0.0, rel_tol=1e-9)


@given(any_latencies, st.lists(st.integers(0, 50), max_size=8))
def test_merging_any_partition_equals_one_sketch_of_all(
    values: list[float], cuts: list[int]
) -> None:
    bounds = [0, *sorted(c for c in cuts if c <= len(values)), len(values)]
    chunks = [values[a:b] for a, b in itertools.pairwise(bounds)]
    whole = LatencySketch.of(values)
    merged = LatencySketch.merged(*(LatencySketch.of(c) for c in chunks))
    assert merged == whole
    assert merged.bins() == whole.bins()
    assert (merged.count, merged.min, merged.max, merged.sum) == (
        whole.count,
        whole.min,
        whole.max,
        whole.sum,
    )
    assert merged.to_bytes() == whole.to_bytes()
    assert [merged.quantile(q) for q in QS] == [whole.quantile(q) for q in QS]
    assert math.isclose(whole.sum, math.fsum(values), rel_tol=1e-9, abs_tol=0.0005 * len(values))


@given(any_latencies, any_latencies, any_latencies)
def test_merge_is_commutative_and_associative(
    a: list[float], b: list[float], c: list[float]
) -> None:
    x, y, z = LatencySketch.of(a), LatencySketch.of(b), LatencySketch.of(c)
    before = (x.to_bytes(), y.to_bytes(), z.to_bytes())
    assert LatencySketch.merged(x, y) == LatencySketch.merged(y, x)
    left = LatencySketch.merged(LatencySketch.merged(x, y), z)
    assert left == LatencySketch.merged(x, LatencySketch.merged(y, z))
    assert LatencySketch.merged(x, LatencySketch()) == x
    assert (x.to_bytes(), y.to_bytes(), z.to_bytes()) == before  # inputs untouched


def test_merge_into_self_doubles_every_count() -> None:
    sketch = LatencySketch.of([1.0, 2.0, 2.0, 300.0])
    sketch.merge(sketch)
    assert sketch == LatencySketch.of([1.0, 1.0, 2.0, 2.0, 2.0, 2.0, 300.0, 300.0])


def test_add_with_count_is_adding_repeatedly() -> None:
    a, b = LatencySketch(), LatencySketch.of([42.5] * 5 + [7.0])
    a.add(42.5, count=5)
    a.add(7)
    assert a == b
    assert a.count == 6
    assert a.mean == pytest.approx((42.5 * 5 + 7) / 6)


@pytest.mark.parametrize(
    ("ms", "count"), [(-1.0, 1), (math.nan, 1), (math.inf, 1), (-math.inf, 1), (1.0, 0), (1.0, -3)]
)
def test_add_rejects_invalid_input(ms: float, count: int) -> None:
    with pytest.raises(ValueError, match="must be"):
        LatencySketch().add(ms, count)


def test_negative_zero_is_zero() -> None:
    sketch = LatencySketch.of([-0.0])
    assert sketch == LatencySketch.of([0.0])
    assert sketch.to_bytes() == LatencySketch.of([0.0]).to_bytes()


def test_empty_sketch() -> None:
    sketch = LatencySketch()
    assert (sketch.count, sketch.min, sketch.max, sketch.sum, sketch.mean) == (
        0,
        None,
        None,
        0,
        None,
    )
    assert sketch.quantile(0.5) is None
    assert sketch.bins() == []
    assert sketch.to_bytes() == b"\x01\x00"
    assert LatencySketch.from_bytes(b"\x01\x00") == sketch
    assert sketch != LatencySketch.of([1.0])
    assert sketch != "sketch"


@pytest.mark.parametrize("q", [-0.01, 1.01, math.nan, math.inf])
def test_quantile_rejects_q_outside_0_1(q: float) -> None:
    for sketch in (LatencySketch(), LatencySketch.of([1.0])):
        with pytest.raises(ValueError, match="quantile out of range"):
            sketch.quantile(q)


@given(any_latencies.filter(bool))
def test_min_and_max_are_exact_and_bound_every_estimate(values: list[float]) -> None:
    sketch = LatencySketch.of(values)
    assert (sketch.quantile(0), sketch.quantile(1)) == (min(values), max(values))
    for q in QS:
        assert min(values) <= (sketch.quantile(q) or 0.0) <= max(values)


def test_out_of_range_estimates() -> None:
    low = LatencySketch.of([0.0, 0.0, 0.001, 5.0])
    assert low.quantile(0.5) == pytest.approx(0.0005, abs=0.0102)
    high = LatencySketch.of([1e6, 2e6, 3e6, 9e9])
    assert 603_000 < (high.quantile(0.5) or 0.0) <= 9e9
    assert high.quantile(1) == 9e9


@given(any_latencies)
def test_encoding_round_trips_canonically(values: list[float]) -> None:
    sketch = LatencySketch.of(values)
    data = sketch.to_bytes()
    decoded = LatencySketch.from_bytes(data)
    assert decoded == sketch
    assert decoded.to_bytes() == data
    assert [decoded.quantile(q) for q in QS] == [sketch.quantile(q) for q in QS]


def test_a_minute_of_six_probes_is_tens_of_bytes() -> None:
    data = LatencySketch.of([95.2, 101.7, 99.9, 143.0, 97.3, 1203.5]).to_bytes()
    assert 20 <= len(data) <= 45


@given(any_latencies.filter(bool))
def test_truncated_or_extended_input_is_rejected(values: list[float]) -> None:
    data = LatencySketch.of(values).to_bytes()
    for end in range(len(data)):
        with pytest.raises(ValueError, match="sketch"):
            LatencySketch.from_bytes(data[:end])
    with pytest.raises(ValueError, match="sketch"):
        LatencySketch.from_bytes(data + b"\x00")


def _encode(low: float, high: float, rest: bytes, n: int = 1) -> bytes:
    return bytes([1, n]) + struct.pack("<dd", low, high) + rest


# [1.0]: sum 1000 µs (varint e8 07), bucket 0 = MIN_INDEX + 230 (varint e6 01), count 1.
VALID = _encode(1.0, 1.0, b"\xe8\x07\xe6\x01\x01")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x02\x00",  # unknown version
        b"\x01\x80\x00",  # non-minimal varint
        b"\x01\x00\x00",  # trailing byte after an empty sketch
        _encode(2.0, 1.0, VALID[-5:]),  # min > max
        _encode(math.nan, 1.0, VALID[-5:]),
        _encode(-0.0, 1.0, VALID[-5:]),
        _encode(1.0, math.inf, VALID[-5:]),
        _encode(1.0, 1.0, VALID[-5:], n=0),  # bucket count says empty
        VALID[:-1] + b"\x00",  # zero count
        VALID[:-3] + b"\x81\x07\x01",  # index MAX_INDEX + 1
        VALID[:-3] + b"\xe5\x01\x01",  # min/max not in the only bucket
        VALID[:-5] + b"\xe7\x07" + VALID[-3:],  # sum below min * count
        VALID[:-5] + b"\xe9\x07" + VALID[-3:],  # sum above max * count
        VALID[:-3] + b"\xe6\x81\x00\x01",  # non-minimal varint delta
        bytes([1, 2]) + VALID[2:] + b"\x00\x01",  # repeated bucket (delta 0)
        bytes([1, 200, 7]) + VALID[2:],  # more buckets than exist
    ],
)
def test_corrupt_input_is_rejected(data: bytes) -> None:
    assert LatencySketch.from_bytes(VALID) == LatencySketch.of([1.0])
    with pytest.raises(ValueError, match="sketch"):
        LatencySketch.from_bytes(data)


@given(st.binary(max_size=40))
def test_arbitrary_bytes_are_rejected_or_canonical(tail: bytes) -> None:
    data = b"\x01" + tail
    try:
        sketch = LatencySketch.from_bytes(data)
    except ValueError:
        return
    assert sketch.to_bytes() == data
