"""An SLO's events and status, read from the rollups (definitions in ``engine/slo.py``)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from statpulse.engine.rollups import Rollup
from statpulse.engine.slo import Events, SloReport, evaluate, latency_good
from statpulse.model import Slo, SloKind
from statpulse.reports.ranges import range_rollups
from statpulse.store.contract import Store

NO_EVENTS = Events(0, 0)


@dataclass(frozen=True, slots=True)
class SloStatus:
    """An SLO evaluated at ``end``: the rolling window ``[start, end)`` and its figures."""

    slo: Slo
    monitor_id: uuid.UUID | None
    start: datetime
    end: datetime
    window: Events
    report: SloReport


def events_of(slo: Slo, by_region: Mapping[str, Rollup]) -> Events:
    """Good and total events of ``slo`` in rollups (every region's checks count)."""
    merged = Rollup.merged(by_region.values())
    if slo.kind is SloKind.LATENCY:
        threshold = slo.threshold_ms if slo.threshold_ms is not None else 0.0
        return Events(latency_good(merged.sketch, threshold), merged.sketch.count)
    return Events(merged.ok, merged.checks)


async def measured_monitor(store: Store, slo: Slo) -> uuid.UUID | None:
    """The monitor whose checks measure ``slo``: its own, or its component's (None when the
    component has no monitor)."""
    if slo.monitor_id is not None:
        return slo.monitor_id
    for component in await store.list_components(slo.org_id):
        if component.id == slo.component_id:
            return component.monitor_id
    return None


async def slo_events(
    store: Store, slo: Slo, monitor_id: uuid.UUID | None, start: datetime, end: datetime
) -> Events:
    """Events of ``slo`` over ``[start, end)``; none when there is no monitor."""
    if monitor_id is None:
        return NO_EVENTS
    return events_of(slo, await range_rollups(store, monitor_id, start, end))


async def slo_status(store: Store, slo: Slo, now: datetime) -> SloStatus:
    """``slo`` over its rolling window ending at ``now`` (aware), with 1 h and 6 h burn rates."""
    monitor_id = await measured_monitor(store, slo)
    window = timedelta(days=slo.window_days)
    start = now - window
    events = await slo_events(store, slo, monitor_id, start, now)
    last_1h = await slo_events(store, slo, monitor_id, now - timedelta(hours=1), now)
    last_6h = await slo_events(store, slo, monitor_id, now - timedelta(hours=6), now)
    report = evaluate(slo.target_pct, window.total_seconds() / 60, events, last_1h, last_6h)
    return SloStatus(slo, monitor_id, start, now, events, report)
