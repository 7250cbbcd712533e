"""Latency alerts on P95/P99 over a sliding time window (pure: no I/O, ``now`` passed in).

A ``LatencyWindow`` holds recent successful-check latencies ``(at, latency_ms)``, oldest first,
bounded to ``max_samples`` (the oldest are dropped first). It is an immutable tuple rather than
a ``deque`` so the state is a frozen, storable value. Percentiles are exact nearest-rank
(``ceil(q/100 * n)``-th smallest sample, always an observed value).

``evaluate`` turns the samples of the last ``window_s`` seconds into a verdict:

* fewer than ``min_samples`` samples: not enough evidence, the previous verdict stands;
* otherwise the monitor becomes ``degraded`` when the window's p95 exceeds ``p95_ms`` or its
  p99 exceeds ``p99_ms`` (a threshold of None is not checked);
* hysteresis: once degraded it recovers to ``up`` only when every configured percentile is
  below ``recover_ratio`` (default 0.9) times its threshold, so a latency hovering at the
  threshold does not flip the status on every check.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from statpulse.model import Status

Sample = tuple[datetime, float]


@dataclass(frozen=True, slots=True)
class LatencyPolicy:
    p95_ms: float | None = None
    p99_ms: float | None = None
    window_s: int = 300
    min_samples: int = 5
    recover_ratio: float = 0.9
    max_samples: int = 10_000


@dataclass(frozen=True, slots=True)
class LatencyWindow:
    samples: tuple[Sample, ...] = ()
    degraded: bool = False


@dataclass(frozen=True, slots=True)
class LatencyVerdict:
    status: Status
    """``degraded`` or ``up``."""
    p95_ms: float | None
    p99_ms: float | None
    samples: int


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile (0 < q <= 100) of ``values``.

    Raises ValueError when ``values`` is empty or ``q`` is out of range.
    """
    if not values:
        raise ValueError("values: no samples")
    if not 0 < q <= 100:
        raise ValueError("q: must be in (0, 100]")
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1]


def add_sample(
    window: LatencyWindow, at: datetime, latency_ms: float, policy: LatencyPolicy
) -> LatencyWindow:
    """``window`` with the sample added in time order, keeping the newest ``max_samples``."""
    samples = list(window.samples)
    bisect.insort(samples, (at, latency_ms), key=lambda s: s[0])
    return LatencyWindow(tuple(samples[-policy.max_samples :]), window.degraded)


def drop_old(window: LatencyWindow, now: datetime, policy: LatencyPolicy) -> LatencyWindow:
    """``window`` without samples older than ``window_s`` before ``now`` (at or before the edge)."""
    edge = now - timedelta(seconds=policy.window_s)
    cut = bisect.bisect_right(window.samples, edge, key=lambda s: s[0])
    return LatencyWindow(window.samples[cut:], window.degraded) if cut else window


def _over(value: float | None, limit: float | None, ratio: float) -> bool:
    return value is not None and limit is not None and value > limit * ratio


def evaluate(
    window: LatencyWindow, now: datetime, policy: LatencyPolicy
) -> tuple[LatencyWindow, LatencyVerdict]:
    """Drop old samples, then decide ``degraded`` or ``up`` as the module docstring says.

    Returns the new window (its ``degraded`` flag is the verdict) and the verdict with the
    percentiles it used (None when there were fewer than ``min_samples`` samples).
    """
    window = drop_old(window, now, policy)
    values = [ms for _, ms in window.samples]
    if len(values) < max(1, policy.min_samples):
        status = Status.DEGRADED if window.degraded else Status.UP
        return window, LatencyVerdict(status, None, None, len(values))
    p95, p99 = percentile(values, 95), percentile(values, 99)
    if window.degraded:
        r = policy.recover_ratio
        degraded = _over(p95, policy.p95_ms, r) or _over(p99, policy.p99_ms, r)
    else:
        degraded = _over(p95, policy.p95_ms, 1.0) or _over(p99, policy.p99_ms, 1.0)
    status = Status.DEGRADED if degraded else Status.UP
    return LatencyWindow(window.samples, degraded), LatencyVerdict(status, p95, p99, len(values))
