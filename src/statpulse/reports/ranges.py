"""Reading a monitor's results over a time range from its rollups (the one place that does).

The stats API, SLO status and the SLA report all read ranges through here, so they agree.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from statpulse.engine.rollup_query import plan, summarize_rollups
from statpulse.engine.rollups import Rollup
from statpulse.engine.stats import Stats
from statpulse.store.contract import Store


async def range_rollups(
    store: Store, monitor_id: uuid.UUID, start: datetime, end: datetime
) -> dict[str, Rollup]:
    """Per region, the merged rollup of the monitor's results with ``start <= started_at < end``
    (aware datetimes): whole days, hours and minutes from rollups, sub-minute edges from raw
    results (``engine/rollup_query.plan``). Regions without results are absent."""
    return await store.range_rollups(monitor_id, plan(start, end))


async def range_stats(
    store: Store, monitor_id: uuid.UUID, start: datetime, end: datetime
) -> tuple[Stats, dict[str, Stats]]:
    """Overall and per-region stats of ``[start, end)`` (see ``summarize_rollups``): uptime and
    counts exact, percentiles within 1 %, overall downtime the mean over regions."""
    return summarize_rollups(await range_rollups(store, monitor_id, start, end))
