"""The fast decoding paths of the latency sketch: ``from_bytes`` and ``merged_from_bytes`` accept
exactly the canonical encodings and decode them as a plain reference decoder does, and
``MergedSketchCache`` answers as decoding would (pure)."""

from __future__ import annotations

import math
import struct
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from statpulse.engine.sketch import (
    MAX_INDEX,
    MIN_INDEX,
    LatencySketch,
    MergedSketchCache,
    _entry_size,
    bucket_index,
    bucket_value,
)


def reference_decode(data: bytes) -> tuple[dict[int, int], float, float, int] | None:
    """The version-1 format read byte by byte, straight from the module docstring: buckets,
    min, max and sum in µs, or None if ``data`` is not a canonical encoding."""

    def varint(pos: int) -> tuple[int, int]:
        value = shift = 0
        while True:
            byte = data[pos]  # IndexError when truncated
            value |= (byte & 0x7F) << shift
            pos += 1
            if byte < 0x80:
                if byte == 0 and shift:
                    raise ValueError("non-minimal")
                return value, pos
            shift += 7

    try:
        if data[0] != 1:
            return None
        n, pos = varint(1)
        if n == 0:
            return ({}, math.inf, -math.inf, 0) if pos == len(data) else None
        low, high = struct.unpack_from("<dd", data, pos)
        if not (0 <= low <= high < math.inf) or math.copysign(1, low) < 0:
            return None
        sum_us, pos = varint(pos + 16)
        buckets: dict[int, int] = {}
        index = MIN_INDEX
        for i in range(n):
            delta, pos = varint(pos)
            count, pos = varint(pos)
            index += delta
            if (i and delta == 0) or count == 0 or index > MAX_INDEX:
                return None
            buckets[index] = count
    except (IndexError, ValueError, struct.error):
        return None
    total = sum(buckets.values())
    if pos != len(data) or bucket_index(low) != min(buckets) or bucket_index(high) != max(buckets):
        return None
    try:
        if not round(low * 1000) * total <= sum_us <= round(high * 1000) * total:
            return None
    except OverflowError:  # a max no sketch can hold (add rounds every value to the µs)
        return None
    return buckets, low, high, sum_us


def decoded(data: bytes) -> tuple[dict[int, int], float, float, int] | None:
    try:
        sketch = LatencySketch.from_bytes(data)
    except ValueError:
        return None
    return dict(sketch.bins()), sketch._min, sketch._max, sketch._sum_us


values = st.one_of(
    st.floats(min_value=0, max_value=1e7),
    st.floats(min_value=-2, max_value=5.8).map(lambda e: 10.0**e),
)
# Counts up to 3-byte varints (>= 16384), deltas of 1 to 896: every decoding path.
weighted = st.lists(st.tuples(values, st.integers(1, 40_000)), max_size=40)


def sketch_of(pairs: list[tuple[float, int]]) -> LatencySketch:
    sketch = LatencySketch()
    for ms, count in pairs:
        sketch.add(ms, count)
    return sketch


@given(st.lists(weighted, max_size=8))
def test_merged_from_bytes_equals_merging_each_decoded_sketch(parts: list[list[Any]]) -> None:
    blobs = [sketch_of(pairs).to_bytes() for pairs in parts]
    one_by_one = LatencySketch()
    for blob in blobs:
        one_by_one.merge(LatencySketch.from_bytes(blob))
    merged = LatencySketch.merged_from_bytes(blobs)
    assert merged == one_by_one == LatencySketch.merged(*map(sketch_of, parts))
    assert merged.count == one_by_one.count
    assert merged.to_bytes() == one_by_one.to_bytes()
    for q in (0, 0.5, 0.95, 0.99, 1):
        assert merged.quantile(q) == one_by_one.quantile(q)


@given(weighted)
def test_decoding_equals_the_reference_decoder(pairs: list[tuple[float, int]]) -> None:
    sketch = sketch_of(pairs)
    data = sketch.to_bytes()
    assert decoded(data) == reference_decode(data)
    assert LatencySketch.from_bytes(data) == sketch


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    """A canonical encoding with a few bytes changed, inserted or removed."""
    data = bytearray(sketch_of(draw(weighted)).to_bytes())
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(("set", "insert", "delete", "truncate")))
        byte = draw(st.sampled_from((0x00, 0x01, 0x7F, 0x80, 0x81, 0xFF)) | st.integers(0, 255))
        if op == "set" and at < len(data):
            data[at] = byte
        elif op == "insert":
            data.insert(at, byte)
        elif op == "delete" and at < len(data):
            del data[at]
        elif op == "truncate":
            del data[at:]
    return bytes(data)


@given(damaged())
@example(  # a finite max too large to round to the µs: rejected, not an OverflowError
    b"\x01\x01\x00\x00\x00\x00NbPA\x00\x00\x00\x00NbP\x7f\xc0\x85\x80\x80\x10\x80\x07\x01"
)
def test_damaged_input_is_rejected_exactly_when_the_reference_rejects_it(data: bytes) -> None:
    assert decoded(data) == reference_decode(data)


@given(st.binary(max_size=30))
def test_arbitrary_bytes_decode_as_the_reference_does(tail: bytes) -> None:
    assert decoded(b"\x01" + tail) == reference_decode(b"\x01" + tail)


def test_merged_from_bytes_rejects_any_invalid_blob() -> None:
    good = LatencySketch.of([1.0, 250.0]).to_bytes()
    assert LatencySketch.merged_from_bytes([]) == LatencySketch()
    with pytest.raises(ValueError, match="sketch"):
        LatencySketch.merged_from_bytes([good, good[:-1], good])


def test_three_byte_varints_decode() -> None:
    sketch = LatencySketch()
    sketch.add(0.0, 3_000_000)  # first delta 0, a 4-byte count
    sketch.add(100.0, 20_000)
    sketch.add(1e9, 16_384)  # delta > 127 then a 3-byte count
    assert LatencySketch.from_bytes(sketch.to_bytes()) == sketch
    assert LatencySketch.merged_from_bytes([sketch.to_bytes()] * 3).count == 3 * sketch.count


def test_cache_answers_as_decoding_and_keeps_no_stale_entry() -> None:
    days = tuple(LatencySketch.of([10.0 * d, 55.5, 1000.0 + d]).to_bytes() for d in range(1, 30))
    cache = MergedSketchCache()
    for _ in range(2):  # a miss, then a hit
        target = LatencySketch.of([3.25])
        cache.merge_into(target, days)
        assert target == LatencySketch.merged(
            LatencySketch.of([3.25]), LatencySketch.merged_from_bytes(days)
        )
        assert len(cache) == 1
    # A late result changes one day: another key, the answer follows the new bytes.
    changed = (*days[:5], LatencySketch.of([10.0 * 6, 55.5, 1006.0, 77.0]).to_bytes(), *days[6:])
    target = LatencySketch()
    cache.merge_into(target, changed)
    assert target == LatencySketch.merged_from_bytes(changed)
    assert target.count == 3 * 29 + 1
    # The cached sketch is never handed out: changing a target leaves the next answer alone.
    target.add(5.0)
    again = LatencySketch()
    cache.merge_into(again, changed)
    assert again == LatencySketch.merged_from_bytes(changed)


def test_cache_is_bounded_by_an_estimate_of_its_memory() -> None:
    keys = [
        tuple(LatencySketch.of([float(k), float(d)]).to_bytes() for d in range(10))
        for k in range(6)
    ]
    size = max(_entry_size(key, LatencySketch.merged_from_bytes(key)) for key in keys)
    cache = MergedSketchCache(max_bytes=3 * size)
    for key in keys:
        cache.merge_into(LatencySketch(), key)
    assert len(cache) == 3
    assert cache._size <= 3 * size
    cache.merge_into(LatencySketch(), keys[-1])  # recently used: kept
    assert keys[-1] in cache._entries
    assert keys[0] not in cache._entries
    small = MergedSketchCache(max_bytes=_entry_size(keys[0], LatencySketch()) - 1)
    target = LatencySketch()
    small.merge_into(target, keys[0])  # larger than the whole budget: merged, not kept
    assert target == LatencySketch.merged_from_bytes(keys[0])
    assert len(small) == 0
    with pytest.raises(ValueError, match="sketch"):
        cache.merge_into(LatencySketch(), (keys[0][0][:-1],))
    assert len(cache) == 3


def reference_quantile(sketch: LatencySketch, q: float) -> float | None:
    """The module's rank rule, one k-th value at a time (as ``quantile`` was first written)."""
    n = sketch.count
    if n == 0:
        return None

    def value_at(k: int) -> float:
        if k == 0:
            return sketch._min
        if k == n - 1:
            return sketch._max
        seen = 0
        for index, count in sketch.bins():
            seen += count
            if seen > k:
                return min(sketch._max, max(sketch._min, bucket_value(index)))
        raise AssertionError("unreachable")

    rank = q * (n - 1)
    low = math.floor(rank)
    high = min(low + 1, n - 1)
    return value_at(low) + (value_at(high) - value_at(low)) * (rank - low)


@given(weighted, st.lists(st.floats(0, 1), max_size=6))
def test_quantiles_walk_once_and_equal_each_quantile(
    pairs: list[tuple[float, int]], qs: list[float]
) -> None:
    sketch = sketch_of(pairs)
    qs += [0.0, 0.5, 0.95, 0.99, 1.0]
    want = [reference_quantile(sketch, q) for q in qs]
    assert sketch.quantiles(qs) == want
    assert [sketch.quantile(q) for q in qs] == want
    with pytest.raises(ValueError, match="quantile"):
        sketch.quantiles([0.5, 1.5])
