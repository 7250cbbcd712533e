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
Reads of long ranges merge hundreds of stored sketches: :meth:`LatencySketch.merged_from_bytes`
decodes them straight into one (no sketch per blob), and :class:`MergedSketchCache` keeps such
merges of blobs that are read again unchanged (keyed by their bytes).
"""

from __future__ import annotations

import math
import struct
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Iterator
from itertools import accumulate, compress

ALPHA = 0.01
GAMMA = (1 + ALPHA) / (1 - ALPHA)
MIN_INDEX = -230  # bucket of 0.01 ms; everything smaller is counted here
MAX_INDEX = 666  # bucket of 600,000 ms (10 minutes); everything larger is counted here
VERSION = 1
_INV_LOG_GAMMA = 1 / math.log(GAMMA)
_MIN_MAX = struct.Struct("<dd")
_SIZE = MAX_INDEX - MIN_INDEX + 1  # number of buckets
_HIGH_BYTES = bytes(range(0x80, 0x100))  # continuation bytes of a varint


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
        if not buckets:
            buckets.update(other._buckets)
        else:
            get = buckets.get
            for index, count in list(other._buckets.items()):
                buckets[index] = get(index, 0) + count
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
        return self.quantiles((q,))[0]

    def quantiles(self, qs: Iterable[float]) -> list[float | None]:
        """``[self.quantile(q) for q in qs]``, the buckets walked once for all of them."""
        qs = list(qs)
        for q in qs:
            if not 0 <= q <= 1:
                raise ValueError(f"quantile out of range: {q!r}")
        n = self._count
        if n == 0:
            return [None for _ in qs]
        ranks = []
        for q in qs:
            rank = q * (n - 1)
            low = math.floor(rank)
            ranks.append((rank, low, min(low + 1, n - 1)))
        values = self._values_at({k for _, low, high in ranks for k in (low, high)})
        out: list[float | None] = []
        for rank, low, high in ranks:
            low_value = values[low]
            high_value = low_value if high == low else values[high]
            out.append(low_value + (high_value - low_value) * (rank - low))
        return out

    def _values_at(self, ks: set[int]) -> dict[int, float]:
        """The estimate of the k-th smallest value (0-based, ``k < count``) for each k in ``ks``:
        exactly min for k = 0, max for k = count - 1, else its bucket's clamped into them."""
        values = {k: self._min for k in ks if k == 0}
        values.update({k: self._max for k in ks if k == self._count - 1})
        pending = sorted(ks - values.keys(), reverse=True)  # smallest last
        seen = 0
        buckets = self._buckets
        for index in sorted(buckets):
            if not pending:
                break
            seen += buckets[index]
            while pending and seen > pending[-1]:
                values[pending.pop()] = min(self._max, max(self._min, bucket_value(index)))
        return values

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
        if len(data) > 64:  # a list of every bucket's count, as merged_from_bytes
            return cls.merged_from_bytes((data,))
        counts: defaultdict[int, int] = defaultdict(int)  # a few buckets: cheaper than the list
        total, low, high, sum_us, _, _ = _decode_into(data, counts)
        sketch = cls()
        if total:
            sketch._buckets = {offset + MIN_INDEX: count for offset, count in counts.items()}
            sketch._count, sketch._min, sketch._max, sketch._sum_us = total, low, high, sum_us
        return sketch

    @classmethod
    def merged_from_bytes(cls, blobs: Iterable[bytes]) -> LatencySketch:
        """The merge of the sketches encoded in ``blobs``, equal to merging their
        :meth:`from_bytes` one by one (ValueError if any is not canonical), without building
        them: every blob's buckets are added straight into one list of counts."""
        counts = [0] * _SIZE
        total = sum_us = 0
        low = math.inf
        high = -math.inf
        first = _SIZE
        last = -1
        for data in blobs:
            n, b_low, b_high, b_sum_us, b_first, b_last = _decode_into(data, counts)
            if n:
                total += n
                sum_us += b_sum_us
                if b_low < low:
                    low = b_low
                if b_high > high:
                    high = b_high
                if b_first < first:
                    first = b_first
                if b_last > last:
                    last = b_last
        sketch = cls()
        if total:
            used = counts[first : last + 1]
            indexes = range(first + MIN_INDEX, last + MIN_INDEX + 1)
            sketch._buckets = dict(compress(zip(indexes, used, strict=True), used))
            sketch._count, sketch._min, sketch._max, sketch._sum_us = total, low, high, sum_us
        return sketch

    def _key(self) -> tuple[dict[int, int], float, float, int]:
        return self._buckets, self._min, self._max, self._sum_us

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LatencySketch):
            return NotImplemented
        return self._key() == other._key()

    def __repr__(self) -> str:
        return f"LatencySketch(count={self.count}, min={self.min}, max={self.max})"


class MergedSketchCache:
    """A bounded LRU of :meth:`LatencySketch.merged_from_bytes` results, keyed by the exact
    tuple of encodings merged.

    A hit needs every blob equal, byte for byte and in the same order, to those merged before:
    the answer is then the same by construction, so nothing ever needs invalidating (a rollup
    row changed by a late result is another key; the stale entry ages out). Made for blobs that
    are read again and again unchanged, such as a monitor's closed day rollups. Bounded by an
    estimate of the memory its entries hold (the key's blobs and the merged sketch, see
    :func:`_entry_size`), least recently used first out; an entry larger than the whole budget
    is merged but not kept. Thread-safe.
    """

    __slots__ = ("_entries", "_lock", "_max_bytes", "_size")

    def __init__(self, max_bytes: int = 8 << 20) -> None:
        self._entries: OrderedDict[tuple[bytes, ...], tuple[LatencySketch, int]] = OrderedDict()
        self._lock = threading.Lock()
        self._max_bytes = max_bytes
        self._size = 0

    def merge_into(self, target: LatencySketch, blobs: tuple[bytes, ...]) -> None:
        """``target.merge(LatencySketch.merged_from_bytes(blobs))``, from the cache when it can
        (ValueError as ``merged_from_bytes``; nothing is cached then). The cached sketch itself
        is never handed out."""
        with self._lock:
            entry = self._entries.get(blobs)
            if entry is not None:
                self._entries.move_to_end(blobs)
        if entry is None:
            merged = LatencySketch.merged_from_bytes(blobs)  # outside the lock
            entry = merged, _entry_size(blobs, merged)
            if entry[1] <= self._max_bytes:
                with self._lock:
                    if blobs not in self._entries:
                        self._entries[blobs] = entry
                        self._size += entry[1]
                        while self._size > self._max_bytes:
                            self._size -= self._entries.popitem(last=False)[1][1]
        target.merge(entry[0])

    def __len__(self) -> int:
        return len(self._entries)


def _entry_size(blobs: tuple[bytes, ...], sketch: LatencySketch) -> int:
    """Roughly the bytes a cache entry holds (CPython, 64-bit): each blob with its object header
    and tuple slot, each bucket as a dict entry and an int, and the rest."""
    return sum(map(len, blobs)) + 48 * len(blobs) + 80 * len(sketch._buckets) + 400


def _put_varint(out: bytearray, value: int) -> None:
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)


def _decode_into(
    data: bytes, counts: list[int] | defaultdict[int, int]
) -> tuple[int, float, float, int, int, int]:
    """Add the buckets of the canonical encoding ``data`` to ``counts`` (by offset
    ``index - MIN_INDEX``: a list of ``_SIZE`` counts, or a defaultdict) and return its count,
    min, max, sum in µs and first and last bucket offsets; count 0 (nothing added) when empty.

    ValueError on any input :meth:`LatencySketch.to_bytes` cannot produce (as the original
    byte-by-byte decoder), possibly after some of its buckets were added. Checked before the
    bucket loop, on the bytes: exactly ``2 n`` complete varints, and no zero byte after the
    first (a zero byte ends a varint: one of value 0, only allowed as the first delta, or a
    non-minimal one). The loop then reads varints without bounds or value checks; an index past
    ``MAX_INDEX`` fails on the list's bounds, or on the last offset's check for a defaultdict
    (offsets only grow).
    """
    try:
        if data[0] != VERSION:
            raise ValueError("not a version-1 latency sketch")
        n = data[1]
        pos = 2
        if n > 0x7F:
            n, pos = _get_varint(data, 1)
        if n == 0:
            if pos != len(data):
                raise ValueError("trailing bytes after sketch")
            return 0, math.inf, -math.inf, 0, _SIZE, -1
        low, high = _MIN_MAX.unpack_from(data, pos)
        pos += _MIN_MAX.size
        byte = data[pos]  # sum_us, a varint (inline: short blobs are common)
        sum_us = byte & 0x7F
        shift = 7
        while byte > 0x7F:
            pos += 1
            byte = data[pos]
            sum_us |= (byte & 0x7F) << shift
            shift += 7
    except (IndexError, struct.error):
        raise ValueError("truncated sketch") from None
    # high * 1000 finite: the sum check below rounds it (no sketch holds larger values: add
    # rounds each one to the µs).
    if not (0 <= low <= high and high * 1000 < math.inf) or (
        low == 0 and math.copysign(1, low) < 0
    ):
        raise ValueError(f"corrupt sketch min/max: {low!r}, {high!r}")
    if n > _SIZE:
        raise ValueError("corrupt sketch header")
    body = data[pos + 1 :]
    if len(body.translate(None, _HIGH_BYTES)) != 2 * n or body[-1] > 0x7F:
        raise ValueError("truncated sketch or trailing bytes after it")
    if (byte == 0 and shift > 7) or body.find(0, 1) >= 0:
        raise ValueError("corrupt sketch (zero delta or count, or non-minimal varint)")
    try:
        first = body[0]
        if first < 0x80:
            rest = body[1:]  # count, then (delta, count) pairs
        else:  # 2 bytes; a longer one is too large and fails on counts's bounds below
            first = (first & 0x7F) | body[1] << 7
            rest = body[2:]
        if rest.isascii():  # one-byte varints only (small counts): no varint decoding
            last = first
            for last, count in zip(accumulate(rest[1::2], initial=first), rest[::2], strict=True):
                counts[last] += count
            total = sum(rest[::2])
        else:
            last = total = 0
            it = iter(body)
            for delta in it:
                if delta > 0x7F:  # inline 2-byte varints (counts of 128 to 16383 are common)
                    delta = (delta & 0x7F) | next(it) << 7
                    if delta > 0x3FFF:
                        delta = _varint_rest(delta, it)
                last += delta
                count = next(it)
                if count > 0x7F:
                    count = (count & 0x7F) | next(it) << 7
                    if count > 0x3FFF:
                        count = _varint_rest(count, it)
                counts[last] += count
                total += count
    except IndexError:  # past the end of a list of counts
        raise ValueError("corrupt sketch bucket index") from None
    if last >= _SIZE:  # past MAX_INDEX, in a mapping of counts
        raise ValueError("corrupt sketch bucket index")
    # bucket_index(low) and bucket_index(high), inlined (hot path): each must be its end bucket.
    index = math.ceil(math.log(low) * _INV_LOG_GAMMA) if low > 0 else MIN_INDEX
    index = MIN_INDEX if index < MIN_INDEX else MAX_INDEX if index > MAX_INDEX else index
    if index - MIN_INDEX != first:
        raise ValueError("sketch min outside its lowest bucket")
    index = math.ceil(math.log(high) * _INV_LOG_GAMMA) if high > 0 else MIN_INDEX
    index = MIN_INDEX if index < MIN_INDEX else MAX_INDEX if index > MAX_INDEX else index
    if index - MIN_INDEX != last:
        raise ValueError("sketch max outside its highest bucket")
    if not round(low * 1000) * total <= sum_us <= round(high * 1000) * total:
        raise ValueError("sketch sum inconsistent with min/max")
    return total, low, high, sum_us, first, last


def _varint_rest(value: int, it: Iterator[int]) -> int:
    """A varint of 3 bytes or more: ``value`` holds its first two bytes' bits (with the second
    one's continuation bit, 0x4000); reads the rest from ``it``."""
    value &= 0x3FFF
    shift = 14
    for byte in it:
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value
        shift += 7
    raise ValueError("truncated sketch")  # pragma: no cover (checked before decoding)


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
