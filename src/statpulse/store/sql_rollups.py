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

On SQLite the merge happens in the upsert itself (``SET sketch = statpulse_sketch_merge(sketch,
excluded.sketch)``, a function every connection registers, see store/engine.py): one statement
per table instead of an upsert plus an update, under the same database write lock. The
downtime (``down_s``: each failed result stands for its monitor's check interval) is computed
there too, from the group's failed count and the monitor's row (0 s once it is deleted). On
PostgreSQL the intervals are read first, only when a failed result needs one.
"""

from __future__ import annotations

import functools
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from statpulse.engine.rollup_query import Span
from statpulse.engine.rollups import Resolution, Rollup, floor_to
from statpulse.engine.sketch import LatencySketch, MergedSketchCache
from statpulse.model import CheckResult, DayUptime
from statpulse.store import schema as t
from statpulse.store.dialect import upsert_adding, utc_day
from statpulse.store.engine import SKETCH_MERGE
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
_DAY = Resolution.DAY.value

Key = tuple[uuid.UUID, datetime, str]


async def _intervals(
    conn: AsyncConnection, monitor_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """Check intervals of the monitors that still exist (a deleted one's results count 0 s)."""
    m = t.monitors.c
    query = sa.select(m.id, m.interval_s).where(m.id.in_(list(set(monitor_ids))))
    return {row.id: row.interval_s for row in await conn.execute(query)}


_DAY_SKETCHES = MergedSketchCache()
"""Merged sketches of the day rows of recent range reads, per region: a monitor's closed days are
read unchanged by every stats query until a late result changes one (the cache is keyed by the
rows' exact bytes, so it never answers differently from decoding them)."""


def _merged_rows(rows: Iterable[Sequence[Any]]) -> dict[str, Rollup]:
    """Per region, the merge of rollup rows ``(region, resolution, checks, ok, degraded, down_s,
    sketch)``, read once (no row is kept): the sketches are decoded straight into one per region
    (``LatencySketch.merged_from_bytes``), the day rows' through :data:`_DAY_SKETCHES`."""
    sums: dict[str, list[int]] = {}
    days: dict[str, list[bytes]] = defaultdict(list)
    others: dict[str, list[bytes]] = defaultdict(list)
    for region, resolution, checks, ok, degraded, down_s, sketch in rows:
        total = sums.get(region)
        if total is None:
            total = sums[region] = [0, 0, 0, 0]
        total[0] += checks
        total[1] += ok
        total[2] += degraded
        total[3] += down_s
        (days if resolution == _DAY else others)[region].append(sketch)
    merged = {}
    for region, (checks, ok, degraded, down_s) in sums.items():
        sketch = LatencySketch.merged_from_bytes(others[region])
        if days[region]:
            _DAY_SKETCHES.merge_into(sketch, tuple(days[region]))
        merged[region] = Rollup(
            checks=checks, ok=ok, degraded=degraded, down_s=down_s, sketch=sketch
        )
    return merged


def _union(selects: list[sa.Select[Any]]) -> sa.Executable:
    return selects[0] if len(selects) == 1 else sa.union_all(*selects)


@functools.lru_cache(maxsize=64)  # plan() makes a few dozen shapes at most
def _range_queries(
    sources: tuple[Resolution | None, ...],
) -> tuple[sa.Executable | None, sa.Executable | None]:
    """The rollup and raw queries of a plan whose spans have ``sources``, built once per shape
    (parameters ``monitor_id``, ``start_<i>`` and ``end_<i>`` for span i); None when no span
    reads that side.

    One SELECT per span, as a UNION ALL: each is a range scan of the primary key (or of the
    results' (monitor_id, started_at) index). SQLite does not use the index for the bounds in
    ``monitor_id = ? AND (range OR range)``: it scans all the monitor's rows. Each rollup row
    carries its span's resolution (``res``) so the day rows can be told apart.
    """
    monitor_id: sa.BindParameter[Any] = sa.bindparam("monitor_id")
    rollup_selects = []
    raw_selects = []
    for i, source in enumerate(sources):
        start: sa.BindParameter[Any] = sa.bindparam(f"start_{i}")
        end: sa.BindParameter[Any] = sa.bindparam(f"end_{i}")
        if source is None:
            raw_selects.append(
                sa.select(_r.region, _r.ok, _r.degraded, _r.latency_ms).where(
                    _r.monitor_id == monitor_id, _r.started_at >= start, _r.started_at < end
                )
            )
        else:
            c = ROLLUP_TABLES[source].c
            resolution = sa.literal_column(str(source.value), sa.Integer).label("res")
            rollup_selects.append(
                sa.select(
                    c.region, resolution, c.checks, c.ok, c.degraded, c.down_s, c.sketch
                ).where(c.monitor_id == monitor_id, c.bucket_start >= start, c.bucket_start < end)
            )
    return (
        _union(rollup_selects) if rollup_selects else None,
        _union(raw_selects) if raw_selects else None,
    )


def _params(groups: dict[Key, Rollup]) -> list[dict[str, Any]]:
    """One upsert parameter set per group, in key order (see the module docstring)."""
    return [
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


@functools.cache
def _sqlite_upsert(table: sa.Table) -> sa.Insert:
    """SQLite: add the counts and merge the sketch into an existing row in one statement. The
    group's downtime is its failed count (parameter ``failed``) times the interval of monitor
    ``m_id`` as stored now (0 when it was deleted), as ``Rollup.add`` counts it."""
    m = t.monitors.c
    interval_s = sa.select(m.interval_s).where(m.id == sa.bindparam("m_id")).scalar_subquery()
    down_s = sa.bindparam("failed", type_=sa.Integer) * sa.func.coalesce(interval_s, 0)
    stmt = sqlite.insert(table).values(down_s=down_s)
    set_: dict[str, Any] = {name: table.c[name] + stmt.excluded[name] for name in _SUMS}
    set_["sketch"] = getattr(sa.func, SKETCH_MERGE)(table.c.sketch, stmt.excluded.sketch)
    return stmt.on_conflict_do_update(index_elements=_KEYS, set_=set_)


class RollupsMixin(SqlBase):
    async def _roll_up(self, conn: AsyncConnection, results: Sequence[CheckResult]) -> None:
        """Add ``results`` to every resolution's rollups within ``conn``'s transaction.

        ``results`` must be rows this transaction has just inserted (never rolled up before).
        """
        if not results:
            return
        # Only failed results count downtime: no query for a batch of successes, and none on
        # SQLite, whose upsert reads the interval itself (_sqlite_upsert).
        failed = [r.monitor_id for r in results if not r.ok]
        intervals: dict[uuid.UUID, int] = {}
        if failed and self._dialect != "sqlite":
            intervals = await _intervals(conn, failed)
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
        if self._dialect == "sqlite":
            params = _params(groups)
            for group_params in params:  # the upsert computes down_s (see _sqlite_upsert)
                del group_params["down_s"]
                group_params["failed"] = group_params["checks"] - group_params["ok"]
                group_params["m_id"] = group_params["monitor_id"]
            await conn.execute(_sqlite_upsert(table), params)
            return
        upsert = upsert_adding(self._dialect, table, _KEYS, _SUMS).returning(
            c.monitor_id, c.bucket_start, c.region, c.checks, c.sketch
        )
        merged: list[dict[str, Any]] = []
        for row in await conn.execute(upsert, _params(groups)):
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
        rollup_query, raw_query = _range_queries(tuple(span.source for span in spans))
        params: dict[str, Any] = {"monitor_id": monitor_id}
        for i, span in enumerate(spans):
            params[f"start_{i}"] = span.start
            params[f"end_{i}"] = span.end
        rollups: dict[str, Rollup] = defaultdict(Rollup)
        async with self._engine.connect() as conn:
            if rollup_query is not None:
                rollups.update(_merged_rows(await conn.execute(rollup_query, params)))
            if raw_query is not None:
                raw = list(await conn.execute(raw_query, params))
                # The check interval only counts failed results' downtime: no query without one.
                interval_s = 0
                if not all(row.ok for row in raw):
                    interval_s = (await _intervals(conn, [monitor_id])).get(monitor_id, 0)
                for row in raw:
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
        wanted = list(set(monitor_ids))
        # The key as stored, mapped back to the given UUIDs once per monitor: parsing one UUID
        # per row was most of the time of a 100-monitor page on SQLite (32-hex text there).
        raw_key = sa.type_coerce(c.monitor_id, sa.String()) if self._dialect == "sqlite" else None
        key_of: dict[Any, uuid.UUID] = {m.hex: m for m in wanted} if raw_key is not None else {}
        query = (
            sa.select(
                (raw_key if raw_key is not None else c.monitor_id).label("monitor_id"),
                day,
                sa.func.sum(c.checks).label("checks"),
                sa.func.sum(c.ok).label("ok"),
                sa.func.sum(c.degraded).label("degraded"),
            )
            .where(
                c.monitor_id.in_(wanted),
                c.bucket_start >= start,
                c.bucket_start < end,
            )
            .group_by(c.monitor_id, c.bucket_start)
            .order_by(c.monitor_id, c.bucket_start)
        )
        days: dict[uuid.UUID, list[DayUptime]] = defaultdict(list)
        for row in await self._all(query):
            days[key_of.get(row.monitor_id, row.monitor_id)].append(
                DayUptime(
                    day=row.day, checks=int(row.checks), ok=int(row.ok), degraded=int(row.degraded)
                )
            )
        return dict(days)

    async def bucket_sketches(
        self, monitor_id: uuid.UUID, resolution: Resolution, start: datetime, end: datetime
    ) -> dict[datetime, LatencySketch]:
        # One range scan of the primary key; a bucket's regions are merged in Python.
        c = ROLLUP_TABLES[resolution].c
        query = (
            sa.select(c.bucket_start, c.sketch)
            .where(c.monitor_id == monitor_id, c.bucket_start >= start, c.bucket_start < end)
            .order_by(c.bucket_start)
        )
        blobs: dict[datetime, list[bytes]] = defaultdict(list)
        for row in await self._all(query):
            blobs[row.bucket_start].append(row.sketch)
        return {at: LatencySketch.merged_from_bytes(found) for at, found in blobs.items()}
