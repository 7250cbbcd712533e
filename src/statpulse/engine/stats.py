"""Uptime and latency percentiles over a set of results (pure).

Uptime counts ``ok`` results (degraded ones included, as Statuspage counts degraded
performance as no downtime) over all results. Percentiles are over the latencies of ok results
(a failed check's latency is the time to fail, not the service's response time), by linear
interpolation between closest ranks (numpy's default and PostgreSQL's ``percentile_cont``).

This module computes from raw samples (exact; kept for checks and benchmarks); the stats API
reads rollups instead (``engine/rollup_query.py``: same counts, percentiles within 1 %).

Uptime policy and weights:

- Uptime is check-based: ``ok / checks`` over every region's checks, so a monitor failing in one
  of three regions for an hour loses a third of that hour's checks: a partial outage is weighted
  by the share of regions failing (1/3 here, near Statuspage's fixed 30 %), a quorum-confirmed
  outage seen everywhere by 100 %.
- Statuspage's time-based weights, for when uptime is computed from component states (the
  monitor state timeline, ``state_changes``): major outage (``down``) counts 100 % of its time as
  downtime, partial outage 30 %, degraded performance 0 %, maintenance is not counted (neither
  up nor down). Sources: Statuspage's "Display historical uptime of components" help page
  (https://help.statuspage.io/help/uptime-calendar, "How it works"); the same 0.3 factor is
  spelled out by Instatus (https://instatus.com/help/status-page/uptime-colors) and by Harness,
  a Statuspage user (major 100 %, partial 30 %, degraded none).
- Maintenance: TODO(maintenance windows, a later issue). There are no maintenance windows yet,
  so no check is excluded; once they exist, checks started inside a window are left out of both
  ``checks`` and ``ok`` by default (configurable), on the raw and the rollup paths alike.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from statpulse.model import LatencySample


@dataclass(frozen=True, slots=True)
class Stats:
    """Summary of a range of results: counts, uptime (percent) and latency percentiles (ms)."""

    checks: int
    ok: int
    uptime_pct: float | None
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    downtime_s: float | None = None
    """Seconds of downtime (see ``engine/rollups.py``); None when not computed or no checks."""


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) of already sorted values; None when empty."""
    if not sorted_values:
        return None
    if not 0 <= q <= 100:
        raise ValueError(f"percentile out of range: {q}")
    rank = (len(sorted_values) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(sorted_values) - 1)
    frac = rank - low
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * frac


def summarize(samples: Iterable[LatencySample]) -> Stats:
    checks = ok = 0
    latencies: list[float] = []
    for s in samples:
        checks += 1
        if s.ok:
            ok += 1
            if s.latency_ms is not None:
                latencies.append(s.latency_ms)
    latencies.sort()
    return Stats(
        checks=checks,
        ok=ok,
        uptime_pct=(100.0 * ok / checks) if checks else None,
        p50_ms=percentile(latencies, 50),
        p95_ms=percentile(latencies, 95),
        p99_ms=percentile(latencies, 99),
    )


def summarize_by_region(samples: Iterable[LatencySample]) -> tuple[Stats, dict[str, Stats]]:
    """Overall stats and stats per region (regions sorted by name)."""
    all_samples = list(samples)
    by_region: dict[str, list[LatencySample]] = defaultdict(list)
    for s in all_samples:
        by_region[s.region].append(s)
    return summarize(all_samples), {r: summarize(by_region[r]) for r in sorted(by_region)}
