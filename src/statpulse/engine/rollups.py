"""Rollups: what a bucket of check results is summarised into (pure, no I/O).

Each rollup row summarises the results of one monitor in one region whose ``started_at`` lies in
one UTC bucket ``[bucket_start, bucket_start + resolution)`` of a minute, an hour or a day.
Buckets follow ``started_at`` (not ``scheduled_at``) because every read of raw results ranges
over ``started_at``: the exact edges of a query and the rollups then partition the same results.
A late result lands in the (old) bucket of its own ``started_at``.

A :class:`Rollup` holds:

- ``checks``: results; ``ok``: healthy ones (degraded included); ``degraded``: ok and degraded;
- ``down_s``: downtime seconds, defined as *each failed (not ok) result stands for one check
  interval of its monitor* (``interval_s`` as known when the result is rolled up). All of it is
  attributed to the bucket of the failed check's ``started_at``, so a minute bucket of a monitor
  checked every 5 minutes may hold 300 s. It is a per-region figure: a failure seen by three
  regions is three regions' downtime, not three times the monitor's;
- ``sketch``: a :class:`LatencySketch` of the latencies of ok results (a failed check's latency
  is the time it took to fail, not the service's response time). A latency that is not a finite
  number >= 0 is left out of the sketch (it is still counted in ``checks``/``ok``): a bad value
  from a runner must never make a batch impossible to store.

Every field merges by addition (the sketch bucket-wise), so a rollup of a union of disjoint result
sets is the merge of their rollups, in any order: that is what makes maintenance at ingest
incremental (only new rows are added) and any range answerable by merging rollups.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum

from statpulse.engine.sketch import LatencySketch

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class Resolution(Enum):
    """A bucket length in seconds; buckets are aligned to the Unix epoch (UTC midnights for
    days, as POSIX time has no leap seconds)."""

    MINUTE = 60
    HOUR = 3600
    DAY = 86400

    @property
    def step(self) -> timedelta:
        return timedelta(seconds=self.value)


def floor_to(at: datetime, resolution: Resolution) -> datetime:
    """The start of the bucket holding ``at`` (an aware datetime), in UTC; exact to the µs."""
    us = (at - _EPOCH) // _MICROSECOND
    return _EPOCH + timedelta(microseconds=us - us % (resolution.value * 1_000_000))


def ceil_to(at: datetime, resolution: Resolution) -> datetime:
    """The first bucket boundary at or after ``at`` (an aware datetime), in UTC."""
    start = floor_to(at, resolution)
    return start if start == at else start + resolution.step


@dataclass(slots=True)
class Rollup:
    """Counts, downtime and latency sketch of a set of results (see the module docstring)."""

    checks: int = 0
    ok: int = 0
    degraded: int = 0
    down_s: int = 0
    sketch: LatencySketch = field(default_factory=LatencySketch)

    def add(self, *, ok: bool, degraded: bool, latency_ms: float | None, interval_s: int) -> None:
        """Count one result; ``interval_s`` is its monitor's check interval (0 when unknown)."""
        self.checks += 1
        if ok:
            self.ok += 1
            if degraded:
                self.degraded += 1
            if latency_ms is not None and 0 <= latency_ms < math.inf:
                self.sketch.add(latency_ms)
        else:
            self.down_s += interval_s

    def merge(self, other: Rollup) -> None:
        """Add ``other``'s results to this rollup, in place (``other`` is unchanged)."""
        self.checks += other.checks
        self.ok += other.ok
        self.degraded += other.degraded
        self.down_s += other.down_s
        self.sketch.merge(other.sketch)

    @classmethod
    def merged(cls, rollups: Iterable[Rollup]) -> Rollup:
        """A new rollup of all the results of ``rollups``; inputs untouched."""
        total = cls()
        for rollup in rollups:
            total.merge(rollup)
        return total
