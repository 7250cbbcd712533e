"""Answering a time range from rollups (pure): the plan, and the stats of what it read.

:func:`plan` splits ``[start, end)`` into :class:`Span` s, each read from one source: whole UTC
days from the day rollups, whole hours from the hour rollups, whole minutes from the minute
rollups, and the sub-minute edges from raw results, which answer them exactly. Per region, the
store merges what every span read into one :class:`Rollup` (``Store.range_rollups``);
:func:`summarize_rollups` turns those into :class:`Stats`.

Counts, uptime and downtime equal a recomputation from raw results exactly; percentiles come from
the merged latency sketch and are within 1 % of the raw ones (see ``engine/sketch.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from statpulse.engine.rollups import Resolution, Rollup, ceil_to, floor_to
from statpulse.engine.stats import Stats


@dataclass(frozen=True, slots=True)
class Span:
    """``[start, end)`` read from the rollups of ``source``, or from raw results when None."""

    source: Resolution | None
    start: datetime
    end: datetime


_LEVELS = (Resolution.MINUTE, Resolution.HOUR, Resolution.DAY)


def plan(start: datetime, end: datetime) -> list[Span]:
    """Spans covering ``[start, end)`` (aware datetimes) exactly once, in time order.

    Spans are non-empty and contiguous; each rollup span starts and ends on a boundary of its
    resolution; the coarsest resolution that fits is used, so per source there are at most two
    spans (one of days), and raw spans are each shorter than two minutes (a range that holds no
    whole minute, such as 00:00:59.5 to 00:01:59, is one raw span). Thus a 366-day range reads
    at most 366 day, 46 hour and 118 minute rows per region. Empty when ``start >= end``;
    ValueError for naive datetimes.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("plan needs aware datetimes")
    return _cover(start.astimezone(UTC), end.astimezone(UTC), None, _LEVELS)


def _cover(
    start: datetime, end: datetime, source: Resolution | None, coarser: Sequence[Resolution]
) -> list[Span]:
    """Cover ``[start, end)`` with ``source`` at the edges and coarser sources inside."""
    if start >= end:
        return []
    if coarser:
        inner_start, inner_end = ceil_to(start, coarser[0]), floor_to(end, coarser[0])
        if inner_start < inner_end:
            return [
                *_cover(start, inner_start, source, ()),
                *_cover(inner_start, inner_end, coarser[0], coarser[1:]),
                *_cover(inner_end, end, source, ()),
            ]
    return [Span(source, start, end)]


def stats_of(rollup: Rollup, downtime_s: float | None = None) -> Stats:
    """Stats of one rollup; ``downtime_s`` defaults to the rollup's own (None without checks)."""
    if downtime_s is None and rollup.checks:
        downtime_s = float(rollup.down_s)
    p50, p95, p99 = rollup.sketch.quantiles((0.50, 0.95, 0.99))
    return Stats(
        checks=rollup.checks,
        ok=rollup.ok,
        uptime_pct=(100.0 * rollup.ok / rollup.checks) if rollup.checks else None,
        p50_ms=p50,
        p95_ms=p95,
        p99_ms=p99,
        downtime_s=downtime_s,
    )


def summarize_rollups(by_region: Mapping[str, Rollup]) -> tuple[Stats, dict[str, Stats]]:
    """Overall stats and stats per region (sorted by name, regions without checks left out), as
    ``summarize_by_region`` gives from raw samples. Overall uptime and percentiles are over every
    region's checks; overall ``downtime_s`` is the mean of the regions' downtime (a failure seen
    from every region is one outage, not one per region)."""
    regions = {name: by_region[name] for name in sorted(by_region) if by_region[name].checks}
    mean_down = sum(r.down_s for r in regions.values()) / len(regions) if regions else None
    return stats_of(Rollup.merged(regions.values()), mean_down), {
        name: stats_of(rollup) for name, rollup in regions.items()
    }
