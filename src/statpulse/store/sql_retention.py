"""Retention in the store: daily partitions, expiring raw days and old rollups, sizes.

The policy (which days, when, where the archive goes) is ``engine/retention.py``; this file is
the SQL. Raw results expire one UTC day at a time: the caller exports the day's rows
(``day_rows``), then ``expire_day`` removes them in one transaction that records the day in
``expired_days``, after checking that exactly the exported number of rows goes. Ingest refuses
results of an expired day (they would never be archived, and their partition is gone).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterable
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from statpulse.model import CheckResult, utcnow
from statpulse.store import partitions as p
from statpulse.store import schema as t
from statpulse.store.sql_base import SqlBase

log = structlog.get_logger(__name__)

_r = t.check_results.c
_e = t.expired_days.c
HORIZON_TTL_S = 30.0
"""How long a process trusts its copy of the last expired day (others may expire more)."""


class ExpiryMismatch(RuntimeError):
    """A day holds other rows than were exported: nothing was removed."""


class RetentionMixin(SqlBase):
    _layout: p.Layout | None = None
    _partition_days: frozenset[date] = frozenset()
    _horizon: tuple[float, date | None] | None = None

    async def results_layout(self) -> p.Layout:
        """How ``check_results`` is stored (decided by migration 0006; read once)."""
        if self._layout is None:
            # Assigned once known: concurrent first callers must not see a provisional value.
            layout = p.Layout.PLAIN
            if self._dialect == "postgresql":
                async with self._engine.connect() as conn:
                    if await conn.scalar(sa.text(p.PARTITIONED_SQL)):
                        layout = p.Layout.PARTITIONED
                    elif await conn.scalar(sa.text(p.TIMESCALE_INSTALLED_SQL)) and (
                        await conn.scalar(sa.text(p.HYPERTABLE_EXISTS_SQL))
                    ):
                        layout = p.Layout.HYPERTABLE
            self._layout = layout
        return self._layout

    # -- ingest ------------------------------------------------------------------------------

    async def _admit(self, results: list[CheckResult]) -> list[CheckResult]:
        """The results ingest may store: none of an expired day; on a partitioned table the
        partitions of their days are created first when missing."""
        horizon = await self._expired_through()
        if horizon is not None:
            kept = [r for r in results if p.utc_day_of(r.started_at) > horizon]
            if len(kept) < len(results):
                log.warning(
                    "results of expired days refused",
                    count=len(results) - len(kept),
                    expired_through=horizon.isoformat(),
                )
            results = kept
        if results and await self.results_layout() is p.Layout.PARTITIONED:
            missing = {p.utc_day_of(r.started_at) for r in results} - self._partition_days
            if missing:
                await self.ensure_partitions(missing)
        return results

    async def _expired_through(self) -> date | None:
        now = time.monotonic()
        if self._horizon is None or now - self._horizon[0] > HORIZON_TTL_S:
            async with self._engine.connect() as conn:
                self._horizon = (now, await conn.scalar(sa.select(sa.func.max(_e.day))))
        return self._horizon[1]

    # -- partitions (PostgreSQL, partitioned layout) ----------------------------------------

    async def partition_days(self) -> list[date]:
        """The days that have a partition, oldest first (empty unless partitioned)."""
        if await self.results_layout() is not p.Layout.PARTITIONED:
            return []
        async with self._engine.connect() as conn:
            return await _partition_days(conn)

    async def ensure_partitions(self, days: Iterable[date]) -> list[date]:
        """Create the missing partitions of ``days`` (not of expired ones); the created days."""
        if await self.results_layout() is not p.Layout.PARTITIONED:
            return []
        created = []
        async with self._engine.begin() as conn:
            await conn.execute(sa.text(p.PARTITION_LOCK_SQL))
            existing = set(await _partition_days(conn))
            horizon = await conn.scalar(sa.select(sa.func.max(_e.day)))
            for day in sorted(set(days) - existing):
                if horizon is not None and day <= horizon:
                    continue
                await conn.execute(sa.text(p.create_partition_sql(day)))
                created.append(day)
            self._partition_days = frozenset(existing | set(created))
        if created:
            log.info("partitions created", days=[d.isoformat() for d in created])
        return created

    # -- expiring raw days -------------------------------------------------------------------

    async def expired_days(self) -> list[dict[str, Any]]:
        query = sa.select(t.expired_days).order_by(_e.day)
        return [dict(row._mapping) for row in await self._all(query)]

    async def days_to_expire(self, before: date) -> list[date]:
        """Days older than ``before`` that may hold raw results and are not expired yet."""
        horizon = await self._expired_through_now()
        if await self.results_layout() is p.Layout.PARTITIONED:
            days = await self.partition_days()
        else:
            # Every stored result has a day rollup (same transaction): its first day bounds the
            # raw results from below without scanning them.
            c = t.rollups_day.c
            first = await self._first(sa.select(sa.func.min(c.bucket_start)))
            if first is None or first[0] is None:
                return []
            start = p.utc_day_of(first[0])
            if horizon is not None:
                start = max(start, horizon + timedelta(days=1))
            days = [start + timedelta(days=n) for n in range(max(0, (before - start).days))]
        return [d for d in days if d < before and (horizon is None or d > horizon)]

    async def _expired_through_now(self) -> date | None:
        self._horizon = None
        return await self._expired_through()

    async def day_rows(self, day: date, chunk: int = 10_000) -> AsyncIterator[list[dict[str, Any]]]:
        """The day's raw results in (monitor_id, started_at, id) order, ``chunk`` rows at a time.

        One index range scan per monitor (the monitors of the day come from its day rollups);
        ``expire_day`` later checks that no row was missed.
        """
        start = p.day_start(day)
        end = start + timedelta(days=1)
        async with self._engine.connect() as conn:
            monitors = await _day_monitors(conn, day)
        buffer: list[dict[str, Any]] = []
        for monitor_id in monitors:
            query = (
                sa.select(t.check_results)
                .where(_r.monitor_id == monitor_id, _r.started_at >= start, _r.started_at < end)
                .order_by(_r.started_at, _r.id)
            )
            for row in await self._all(query):
                buffer.append(dict(row._mapping))
                if len(buffer) >= chunk:
                    yield buffer
                    buffer = []
        if buffer:
            yield buffer

    async def expire_day(
        self,
        day: date,
        rows: int | None,
        archive_path: str | None = None,
        archive_bytes: int | None = None,
        *,
        now: datetime | None = None,
    ) -> int | None:
        """Remove the day's raw results and record the day as expired, in one transaction;
        the number of rows removed, or None when the day already was expired.

        ``rows``: how many were exported; when the day holds another number, ExpiryMismatch is
        raised and nothing removed (None: not exported, no check)."""
        start = p.day_start(day)
        end = start + timedelta(days=1)
        layout = await self.results_layout()
        async with self._engine.begin() as conn:
            if self._dialect == "postgresql":
                await conn.execute(sa.text(p.PARTITION_LOCK_SQL))
            if await conn.scalar(sa.select(_e.day).where(_e.day == day)) is not None:
                return None
            in_range = sa.and_(_r.started_at >= start, _r.started_at < end)
            removed: int | None
            if layout is p.Layout.PLAIN:
                # Per monitor: index range scans, where one range over all would scan the table.
                removed = 0
                for monitor_id in await _day_monitors(conn, day):
                    stmt = t.check_results.delete().where(_r.monitor_id == monitor_id, in_range)
                    removed += (await conn.execute(stmt)).rowcount
            else:
                removed = await conn.scalar(sa.select(sa.func.count()).where(in_range))
            if rows is not None and removed != rows:
                raise ExpiryMismatch(f"{day}: {removed} rows stored, {rows} exported")
            if layout is p.Layout.PARTITIONED:
                await conn.execute(sa.text(p.drop_partition_sql(day)))
                self._partition_days = self._partition_days - {day}
            elif layout is p.Layout.HYPERTABLE:
                await conn.execute(sa.text(p.drop_chunks_sql(day + timedelta(days=1))))
            await conn.execute(
                t.expired_days.insert().values(
                    day=day,
                    rows=removed,
                    archive_path=archive_path,
                    archive_bytes=archive_bytes,
                    expired_at=now or utcnow(),
                )
            )
        self._horizon = None
        return int(removed or 0)

    # -- rollups -----------------------------------------------------------------------------

    async def expire_rollups(self, cutoffs: dict[str, datetime]) -> dict[str, int]:
        """Delete rollup rows whose bucket starts before the cutoff of their table
        (``{"rollups_minute": ..., ...}``); rows deleted per table."""
        deleted = {}
        for name, cutoff in cutoffs.items():
            table = t.metadata.tables[name]
            async with self._engine.begin() as conn:
                result = await conn.execute(table.delete().where(table.c.bucket_start < cutoff))
                deleted[name] = result.rowcount
        return deleted

    # -- sizes -------------------------------------------------------------------------------

    async def storage_bytes(self) -> dict[str, int]:
        """Bytes on disk per table (PostgreSQL: with indexes and partitions) and in total."""
        names = ["check_results", "rollups_minute", "rollups_hour", "rollups_day"]
        sizes: dict[str, int] = {}
        async with self._engine.connect() as conn:
            if self._dialect == "postgresql":
                hypertable = await self.results_layout() is p.Layout.HYPERTABLE
                for name in names:
                    if hypertable and name == p.TABLE:
                        sizes[name] = int(await conn.scalar(sa.text(p.HYPERTABLE_SIZE_SQL)))
                        continue
                    sizes[name] = int(
                        await conn.scalar(
                            sa.text(p.TABLE_BYTES_SQL),
                            {"name": name},
                        )
                    )
                sizes["total"] = int(
                    await conn.scalar(sa.text("SELECT pg_database_size(current_database())"))
                )
            else:
                page = int(await conn.scalar(sa.text("PRAGMA page_size")))
                count = int(await conn.scalar(sa.text("PRAGMA page_count")))
                free = int(await conn.scalar(sa.text("PRAGMA freelist_count")))
                sizes["total"] = page * (count - free)
        return sizes


async def _day_monitors(conn: AsyncConnection, day: date) -> list[Any]:
    """The monitors with results on ``day``: those with a day rollup (written with them)."""
    c = t.rollups_day.c
    query = sa.select(c.monitor_id).where(c.bucket_start == p.day_start(day)).distinct()
    return sorted(row[0] for row in await conn.execute(query))


async def _partition_days(conn: AsyncConnection) -> list[date]:
    rows = await conn.execute(sa.text(p.PARTITIONS_SQL))
    return sorted(d for (name,) in rows if (d := p.partition_day(name)) is not None)
