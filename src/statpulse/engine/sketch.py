"""A mergeable latency sketch with 1 % relative error (DDSketch-style, pure, no I/O).

Buckets are log-scale and *global*: with ``ALPHA = 0.01`` and ``GAMMA = (1 + ALPHA) / (1 - ALPHA)``
a latency ``x`` ms goes to bucket ``i = ceil(log_GAMMA(x))``, i.e. ``GAMMA**(i-1) < x <= GAMMA**i``,
clamped to ``[MIN_INDEX, MAX_INDEX] = [-230, 666]`` (897 buckets). Bucket ``i`` is estimated as
``2 * GAMMA**i / (GAMMA + 1)``, which is within ``ALPHA`` relative error of every value in it.
Because the boundaries never change, sketches from any runner or rollup merge by adding counts
bucket-wise (a SQL ``GROUP BY index, SUM(count)`` would do the same).

Range: the guarantee holds for values in ``(GAMMA**-231, GAMMA**666]`` = (0.00985 ms, 609.5 s],
which covers 0.01 ms to 10 minutes. Smaller values (including 0) are counted in the bottom bucket
and reported with an absolute error below 0.0102 ms; larger ones are counted in the top bucket and
reported as at most ``max`` and at least ~603.4 s. Negative, NaN and infinite values are rejected.

Quantiles use the same rule as :func:`statpulse.engine.stats.percentile` (PostgreSQL's
``percentile_cont``): with ``n`` values sorted as ``x[0] <= ... <= x[n-1]`` and
``r = q * (n - 1)``, ``k = floor(r)``, the exact quantile is
``x[k] + (x[min(k+1, n-1)] - x[k]) * (r - k)``. The sketch answers the same formula with each
``x[k]`` replaced by an estimate: exactly ``min`` for ``k = 0``, exactly ``max`` for ``k = n-1``,
else its bucket's estimate clamped into ``[min, max]``. Each estimate is within 1 % of its
``x[k]`` (in range), so their interpolation is within 1 % of the exact quantile too
(up to float rounding, ~1e-15, also in ``log`` at bucket boundaries). ``quantile(0)`` and
``quantile(1)`` are exact.

The sum is kept as an integer number of microseconds (each value rounded to the nearest µs before
weighting), so merging is exact, commutative and associative, and equality is exact.

Encoding (version 1; varints are unsigned LEB128 in minimal form)::

    u8 version = 1
    varint n                        number of non-empty buckets; 0 = empty sketch (2 bytes total)
    if n > 0:
      f64 min, f64 max              little-endian IEEE 754, 0 <= min <= max, finite
      varint sum_us                 sum in microseconds
      n x (varint delta, varint count)
                                    delta = index - MIN_INDEX for the first bucket, else
                                    index - previous index (>= 1); count >= 1

A minute of 6 probes takes 30-40 bytes, a day of 1-minute probes ~0.5 KB.
:meth:`LatencySketch.from_bytes` accepts only this canonical form (min/max in the lowest/highest
bucket, sum consistent with them, no trailing bytes) and raises ``ValueError`` on anything else.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable

ALPHA = 0.01
GAMMA = (1 + ALPHA) / (1 - ALPHA)
MIN_INDEX = -230  # bucket of 0.01 ms; everything smaller is counted here
MAX_INDEX = 666  # bucket of 600,000 ms (10 minutes); everything larger is counted here
VERSION = 1
_INV_LOG_GAMMA = 1 / math.log(GAMMA)
_MIN_MAX = struct.Struct("<dd")


def bucket_index(ms: float) -> int:
    """The global bucket of a latency (``ms >= 0``), clamped to ``[MIN_INDEX, MAX_INDEX]``."""
    if ms <= 0:
        return MIN_INDEX
    return max(MIN_INDEX, min(MAX_INDEX, math.ceil(math.log(ms) * _INV_LOG_GAMMA)))


def bucket_value(index: int) -> float:
    """The estimate for every value in bucket ``index``."""
    return 2 * GAMMA**index / (GAMMA + 1)


class LatencySketch:
    """Latencies in ms, summarised: integer counts per global bucket, exact min/max/count/sum.

    Mutable and unhashable; equal when buckets, min, max and sum (in µs) are all equal.
    """

    __slots__ = ("_buckets", "_count", "_max", "_min", "_sum_us")

    def __init__(self) -> None:
        self._buckets: dict[int, int] = {}
        self._count = 0
        self._min = math.inf
        self._max = -math.inf
        self._sum_us = 0

    @classmethod
    def of(cls, values: Iterable[float]) -> LatencySketch:
        """A sketch of ``values`` (each counted once)."""
        sketch = cls()
        for ms in values:
            sketch.add(ms)
        return sketch

    @classmethod
    def merged(cls, *sketches: LatencySketch) -> LatencySketch:
        """A new sketch equal to one built from all the values of ``sketches``; inputs untouched."""
        result = cls()
        for sketch in sketches:
            result.merge(sketch)
        return result

    def add(self, ms: float, count: int = 1) -> None:
        """Count latency ``ms`` (finite, >= 0) ``count`` (>= 1) times; ValueError otherwise."""
        if not (0 <= ms < math.inf):
            raise ValueError(f"latency must be finite and >= 0: {ms!r}")
        if count < 1:
            raise ValueError(f"count must be >= 1: {count!r}")
        ms = float(ms) + 0.0  # -0.0 -> 0.0
        index = bucket_index(ms)
        self._buckets[index] = self._buckets.get(index, 0) + count
        self._count += count
        self._min = min(self._min, ms)
        self._max = max(self._max, ms)
        self._sum_us += round(ms * 1000) * count

    def merge(self, other: LatencySketch) -> None:
        """Add all of ``other``'s values to this sketch, in place (``other`` is unchanged)."""
        buckets = self._buckets
        for index, count in list(other._buckets.items()):
            buckets[index] = buckets.get(index, 0) + count
        self._count += other._count
        self._min = min(self._min, other._min)
        self._max = max(self._max, other._max)
        self._sum_us += other._sum_us

    @property
    def count(self) -> int:
        return self._count

    @property
    def min(self) -> float | None:
        """The exact smallest value; None when empty."""
        return self._min if self._count else None

    @property
    def max(self) -> float | None:
        """The exact largest value; None when empty."""
        return self._max if self._count else None

    @property
    def sum(self) -> float:
        """The sum in ms (each value rounded to the µs); 0.0 when empty."""
        return self._sum_us / 1000

    @property
    def mean(self) -> float | None:
        """The mean in ms (to the µs); None when empty."""
        return self._sum_us / 1000 / self._count if self._count else None

    def bins(self) -> list[tuple[int, int]]:
        """The non-empty buckets as ``(index, count)`` pairs, by index."""
        return sorted(self._buckets.items())

    def quantile(self, q: float) -> float | None:
        """The q-quantile (``0 <= q <= 1``, else ValueError) by the module's rank rule, within
        1 % relative error of the exact one for in-range values; None when empty."""
        if not 0 <= q <= 1:
            raise ValueError(f"quantile out of range: {q!r}")
        n = self._count
        if n == 0:
            return None
        rank = q * (n - 1)
        low = math.floor(rank)
        high = min(low + 1, n - 1)
        low_value = self._value_at(low)
        high_value = low_value if high == low else self._value_at(high)
        return low_value + (high_value - low_value) * (rank - low)

    def _value_at(self, k: int) -> float:
        """The estimate of the k-th smallest value (0-based, ``k < count``)."""
        if k == 0:
            return self._min
        if k == self._count - 1:
            return self._max
        seen = 0
        for index in sorted(self._buckets):
            seen += self._buckets[index]
            if seen > k:
                return min(self._max, max(self._min, bucket_value(index)))
        raise AssertionError("unreachable: k < count")  # pragma: no cover

    def to_bytes(self) -> bytes:
        """The canonical version-1 encoding (see the module docstring)."""
        out = bytearray((VERSION,))
        _put_varint(out, len(self._buckets))
        if not self._count:
            return bytes(out)
        out += _MIN_MAX.pack(self._min, self._max)
        _put_varint(out, self._sum_us)
        previous = MIN_INDEX
        for index, count in sorted(self._buckets.items()):
            _put_varint(out, index - previous)
            _put_varint(out, count)
            previous = index
        return bytes(out)

    @classmethod
    def from_bytes(cls, data: bytes) -> LatencySketch:
        """Decode :meth:`to_bytes` output; ValueError on any other input."""
        if not data or data[0] != VERSION:
            raise ValueError("not a version-1 latency sketch")
        n, pos = _get_varint(data, 1)
        sketch = cls()
        if n == 0:
            if pos != len(data):
                raise ValueError("trailing bytes after sketch")
            return sketch
        if n > MAX_INDEX - MIN_INDEX + 1 or pos + _MIN_MAX.size > len(data):
            raise ValueError("corrupt sketch header")
        low, high = _MIN_MAX.unpack_from(data, pos)
        if not (0 <= low <= high < math.inf) or math.copysign(1, low) < 0:
            raise ValueError(f"corrupt sketch min/max: {low!r}, {high!r}")
        sum_us, pos = _get_varint(data, pos + _MIN_MAX.size)
        index = MIN_INDEX
        buckets = sketch._buckets
        total = 0
        try:
            for i in range(n):
                # Inline fast path: most deltas and counts are one-byte varints (rollups merge
                # stored sketches at every ingest, so decoding is on the hot path).
                delta = data[pos]
                if delta < 0x80:
                    pos += 1
                else:
                    delta, pos = _get_varint(data, pos)
                count = data[pos]
                if count < 0x80:
                    pos += 1
                else:
                    count, pos = _get_varint(data, pos)
                index += delta
                if (i and delta == 0) or count == 0 or index > MAX_INDEX:
                    raise ValueError("corrupt sketch bucket")
                buckets[index] = count
                total += count
        except IndexError:
            raise ValueError("truncated sketch") from None
        sketch._count = total
        if pos != len(data):
            raise ValueError("trailing bytes after sketch")
        sketch._min, sketch._max, sketch._sum_us = low, high, sum_us
        indexes = sketch._buckets.keys()
        if bucket_index(low) != min(indexes) or bucket_index(high) != max(indexes):
            raise ValueError("sketch min/max outside its buckets")
        if not round(low * 1000) * sketch._count <= sum_us <= round(high * 1000) * sketch._count:
            raise ValueError("sketch sum inconsistent with min/max")
        return sketch

    def _key(self) -> tuple[dict[int, int], float, float, int]:
        return self._buckets, self._min, self._max, self._sum_us

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LatencySketch):
            return NotImplemented
        return self._key() == other._key()

    def __repr__(self) -> str:
        return f"LatencySketch(count={self.count}, min={self.min}, max={self.max})"


def _put_varint(out: bytearray, value: int) -> None:
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)


def _get_varint(data: bytes, pos: int) -> tuple[int, int]:
    """The minimal unsigned LEB128 varint at ``pos`` and the position after it."""
    value = shift = 0
    for i in range(pos, len(data)):
        byte = data[i]
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            if byte == 0 and i > pos:
                raise ValueError("non-minimal varint in sketch")
            return value, i + 1
    raise ValueError("truncated sketch")
