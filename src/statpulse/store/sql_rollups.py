"""Rollups: kept up to date in the result-insert transaction, read by merging (engine/rollups).

Maintenance adds only the results the insert reported as new (``RETURNING id``), so a replayed
result adds nothing and a rolled-back batch leaves the rollups as they were. For each resolution
the new results are grouped per (monitor, bucket, region) and each group is added to its row by
one upsert per table (batched): the counts are added by the database itself
(``SET checks = checks + excluded.checks``) and the upsert returns the row as it now is. A row
is only ever created with ``checks >= 1``, so a returned row with more checks than the group's
existed before, and its returned sketch is the old one: it is merged with the group's sketch in
Python and written back, under the row lock the upsert took (PostgreSQL) or the database write
lock (SQLite). Rows are upserted in key order and the tables always minute, hour, day, so
concurrent ingesters lock rows in one global order and cannot deadlock on each other.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from statpulse.engine.rollup_query import Span
from statpulse.engine.rollups import Resolution, Rollup, floor_to
from statpulse.engine.sketch import LatencySketch
from statpulse.model import CheckResult, DayUptime
from statpulse.store import schema as t
from statpulse.store.dialect import upsert_adding, utc_day
from statpulse.store.sql_base import SqlBase

ROLLUP_TABLES: dict[Resolution, sa.Table] = {
    Resolution.MINUTE: t.rollups_minute,
    Resolution.HOUR: t.rollups_hour,
    Resolution.DAY: t.rollups_day,
}
"""In the order every transaction writes them (see the module docstring)."""

_KEYS = ["monitor_id", "bucket_start", "region"]
_SUMS = ["checks", "ok", "degraded", "down_s"]
_r = t.check_results.c

Key = tuple[uuid.UUID, datetime, str]


async def _intervals(
    conn: AsyncConnection, monitor_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """Check intervals of the monitors that still exist (a deleted one's results count 0 s)."""
    m = t.monitors.c
    query = sa.select(m.id, m.interval_s).where(m.id.in_(list(set(monitor_ids))))
    return {row.id: row.interval_s for row in await conn.execute(query)}


def _rollup_row(row: sa.Row[Any]) -> Rollup:
    return Rollup(
        checks=row.checks,
        ok=row.ok,
        degraded=row.degraded,
        down_s=row.down_s,
        sketch=LatencySketch.from_bytes(row.sketch),
    )


def _union(selects: list[sa.Select[Any]]) -> sa.Executable:
    return selects[0] if len(selects) == 1 else sa.union_all(*selects)


class RollupsMixin(SqlBase):
    async def _roll_up(self, conn: AsyncConnection, results: Sequence[CheckResult]) -> None:
        """Add ``results`` to every resolution's rollups within ``conn``'s transaction.

        ``results`` must be rows this transaction has just inserted (never rolled up before).
        """
        if not results:
            return
        intervals = await _intervals(conn, (r.monitor_id for r in results))
        for resolution, table in ROLLUP_TABLES.items():
            groups: dict[Key, Rollup] = defaultdict(Rollup)
            for r in results:
                key = (r.monitor_id, floor_to(r.started_at, resolution), r.region)
                groups[key].add(
                    ok=r.ok,
                    degraded=r.degraded,
                    latency_ms=r.latency_ms,
                    interval_s=intervals.get(r.monitor_id, 0),
                )
            await self._add_groups(conn, table, groups)

    async def _add_groups(
        self, conn: AsyncConnection, table: sa.Table, groups: dict[Key, Rollup]
    ) -> None:
        c = table.c
        upsert = upsert_adding(self._dialect, table, _KEYS, _SUMS).returning(
            c.monitor_id, c.bucket_start, c.region, c.checks, c.sketch
        )
        params = [
            {
                "monitor_id": monitor_id,
                "bucket_start": bucket_start,
                "region": region,
                "checks": group.checks,
                "ok": group.ok,
                "degraded": group.degraded,
                "down_s": group.down_s,
                "sketch": group.sketch.to_bytes(),
            }
            for (monitor_id, bucket_start, region), group in sorted(groups.items())
        ]
        merged: list[dict[str, Any]] = []
        for row in await conn.execute(upsert, params):
            group = groups[(row.monitor_id, row.bucket_start, row.region)]
            # More checks than the group's: the row existed, its returned sketch is the old one.
            if row.checks > group.checks and group.sketch.count:
                sketch = LatencySketch.from_bytes(row.sketch)
                sketch.merge(group.sketch)
                merged.append(
                    {
                        "k_monitor_id": row.monitor_id,
                        "k_bucket_start": row.bucket_start,
                        "k_region": row.region,
                        "k_sketch": sketch.to_bytes(),
                    }
                )
        if merged:
            update = (
                table.update()
                .where(
                    c.monitor_id == sa.bindparam("k_monitor_id"),
                    c.bucket_start == sa.bindparam("k_bucket_start"),
                    c.region == sa.bindparam("k_region"),
                )
                .values(sketch=sa.bindparam("k_sketch"))
            )
            await conn.execute(update, merged)

    async def range_rollups(
        self, monitor_id: uuid.UUID, spans: Sequence[Span]
    ) -> dict[str, Rollup]:
        # One SELECT per span, as a UNION ALL: each is a range scan of the primary key (or of
        # the results' (monitor_id, started_at) index). SQLite does not use the index for the
        # bounds in ``monitor_id = ? AND (range OR range)``: it scans all the monitor's rows.
        rollup_selects = []
        raw_selects = []
        for span in spans:
            if span.source is None:
                raw_selects.append(
                    sa.select(_r.region, _r.ok, _r.degraded, _r.latency_ms).where(
                        _r.monitor_id == monitor_id,
                        _r.started_at >= span.start,
                        _r.started_at < span.end,
                    )
                )
            else:
                c = ROLLUP_TABLES[span.source].c
                rollup_selects.append(
                    sa.select(c.region, c.checks, c.ok, c.degraded, c.down_s, c.sketch).where(
                        c.monitor_id == monitor_id,
                        c.bucket_start >= span.start,
                        c.bucket_start < span.end,
                    )
                )
        rollups: dict[str, Rollup] = defaultdict(Rollup)
        async with self._engine.connect() as conn:
            if rollup_selects:
                for row in await conn.execute(_union(rollup_selects)):
                    rollups[row.region].merge(_rollup_row(row))
            if raw_selects:
                interval_s = (await _intervals(conn, [monitor_id])).get(monitor_id, 0)
                for row in await conn.execute(_union(raw_selects)):
                    rollups[row.region].add(
                        ok=row.ok,
                        degraded=row.degraded,
                        latency_ms=row.latency_ms,
                        interval_s=interval_s,
                    )
        return dict(rollups)

    async def daily_uptime(
        self, monitor_ids: Sequence[uuid.UUID], start: datetime, end: datetime
    ) -> dict[uuid.UUID, list[DayUptime]]:
        if not monitor_ids:
            return {}
        c = t.rollups_day.c
        day = utc_day(self._dialect, c.bucket_start).label("day")  # text: no datetime parsing
        query = (
            sa.select(
                c.monitor_id,
                day,
                sa.func.sum(c.checks).label("checks"),
                sa.func.sum(c.ok).label("ok"),
                sa.func.sum(c.degraded).label("degraded"),
            )
            .where(
                c.monitor_id.in_(list(set(monitor_ids))),
                c.bucket_start >= start,
                c.bucket_start < end,
            )
            .group_by(c.monitor_id, c.bucket_start)
            .order_by(c.monitor_id, c.bucket_start)
        )
        days: dict[uuid.UUID, list[DayUptime]] = defaultdict(list)
        for row in await self._all(query):
            days[row.monitor_id].append(
                DayUptime(
                    day=row.day, checks=int(row.checks), ok=int(row.ok), degraded=int(row.degraded)
                )
            )
        return dict(days)
