"""What the regions of a monitor say, and whether each region's runners are alive (pure).

A region's vote counts only while fresh (``evaluate.is_fresh``: a result within three check
intervals); a stale or missing region is shown as such and left out of the quorum, so a silent
runner makes its region ``unknown`` rather than failing the monitor: operators are told the region
is unhealthy (``unhealthy_regions``), customers get no incident.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from statpulse.engine.evaluate import is_fresh
from statpulse.model import RegionState, Status

SILENT_AFTER = timedelta(seconds=15)
"""Three missed health reports of a remote runner (it reports every 5 s at least)."""


@dataclass(frozen=True, slots=True)
class RegionView:
    region: str
    status: Status
    freshness: str  # fresh | stale | missing
    last_result_at: datetime | None
    last_error: str | None


def region_views(
    regions: Sequence[str], states: Iterable[RegionState], now: datetime, stale_after: timedelta
) -> list[RegionView]:
    by_region = {s.region: s for s in states}
    views = []
    for region in regions:
        state = by_region.get(region)
        if state is None or state.last_result_at is None:
            views.append(RegionView(region, Status.UNKNOWN, "missing", None, None))
            continue
        fresh = is_fresh(state, now, stale_after)
        views.append(
            RegionView(
                region,
                state.status if fresh else Status.UNKNOWN,
                "fresh" if fresh else "stale",
                state.last_result_at,
                state.last_error,
            )
        )
    return views


def summary(views: Sequence[RegionView]) -> str:
    """``"2 of 5 regions failing"`` (of the fresh ones), plus the stale and missing counts."""
    fresh = [v for v in views if v.freshness == "fresh"]
    failing = sum(1 for v in fresh if v.status is Status.DOWN)
    text = f"{failing} of {len(fresh)} regions failing"
    for kind in ("stale", "missing"):
        count = sum(1 for v in views if v.freshness == kind)
        if count:
            text += f", {count} {kind}"
    return text


def unhealthy_regions(
    last_seen: Iterable[tuple[str, datetime]], now: datetime, silent_after: timedelta = SILENT_AFTER
) -> set[str]:
    """Regions none of whose runners reported within ``silent_after``."""
    newest: dict[str, datetime] = {}
    for region, seen in last_seen:
        if region not in newest or seen > newest[region]:
            newest[region] = seen
    return {region for region, seen in newest.items() if now - seen > silent_after}
