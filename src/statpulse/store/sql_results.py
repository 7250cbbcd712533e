"""Check results: batched, idempotent writes (rolled up in the same transaction) and raw reads."""

from __future__ import annotations

import functools
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

from statpulse.model import (
    CheckResult,
    ConditionResult,
    DayUptime,
    ErrorClass,
    LatencySample,
    Phases,
)
from statpulse.store import schema as t
from statpulse.store.dialect import insert_ignoring_duplicates, utc_day
from statpulse.store.sql_retention import RetentionMixin
from statpulse.store.sql_rollups import RollupsMixin

_r = t.check_results.c
_COLUMNS = [c.name for c in t.check_results.columns]
_KEY = ("id", "started_at")
"""The results' primary key: a result id is stored once (see schema.check_results)."""

COPY_MIN_ROWS = 200
"""Smallest batch COPYed on PostgreSQL; smaller ones are one executemany. Measured with
``bench/storage.py`` (add_results rows/s, rollups included, COPY vs executemany): 10 rows -16 %,
100 rows -6 % (the temporary table costs more than COPY saves), 250 +15 %, 500 +20 %."""

_INGEST_TABLE = "check_results_ingest"
_CREATE_INGEST_TABLE = sa.text(
    f"CREATE TEMPORARY TABLE {_INGEST_TABLE} (LIKE check_results) ON COMMIT DROP"
)
_ingest = sa.table(_INGEST_TABLE, *(sa.column(name) for name in _COLUMNS))
_INSERT_FROM_INGEST_TABLE = (
    postgresql.insert(t.check_results)
    .from_select(_COLUMNS, sa.select(*_ingest.c).order_by(_ingest.c.id))
    .on_conflict_do_nothing(index_elements=list(_KEY))
    .returning(_r.id)
)


def result_row(r: CheckResult) -> dict[str, Any]:
    return {
        "id": r.id,
        "monitor_id": r.monitor_id,
        "region": r.region,
        "scheduled_at": r.scheduled_at,
        "started_at": r.started_at,
        "latency_ms": r.latency_ms,
        "dns_ms": r.phases.dns_ms,
        "connect_ms": r.phases.connect_ms,
        "tls_ms": r.phases.tls_ms,
        "first_byte_ms": r.phases.first_byte_ms,
        "status_code": r.status_code,
        "ok": r.ok,
        "degraded": r.degraded,
        "error_class": r.error_class.value if r.error_class else None,
        "error_message": r.error_message,
        # Kept where they explain something: a healthy result's conditions all held.
        "conditions": [
            {"condition": c.condition, "success": c.success, "description": c.description}
            for c in r.conditions
        ]
        if r.conditions and (not r.ok or r.degraded)
        else None,
        "attempts": r.attempts,
    }


def _result(row: sa.Row[Any]) -> CheckResult:
    return CheckResult(
        id=row.id,
        monitor_id=row.monitor_id,
        region=row.region,
        scheduled_at=row.scheduled_at,
        started_at=row.started_at,
        latency_ms=row.latency_ms,
        ok=row.ok,
        degraded=row.degraded,
        status_code=row.status_code,
        phases=Phases(
            dns_ms=row.dns_ms,
            connect_ms=row.connect_ms,
            tls_ms=row.tls_ms,
            first_byte_ms=row.first_byte_ms,
        ),
        error_class=ErrorClass(row.error_class) if row.error_class else None,
        error_message=row.error_message,
        conditions=tuple(ConditionResult(**c) for c in row.conditions or ()),
        attempts=row.attempts,
    )


class ResultsMixin(RollupsMixin, RetentionMixin):
    copy_min_rows: int = COPY_MIN_ROWS
    """On PostgreSQL, batches of at least this many (distinct) results are COPYed."""

    async def add_results(self, results: Sequence[CheckResult]) -> int:
        if not results:
            return 0
        # Duplicates inside one batch (a replayed upload) collapse before the insert; id order
        # keeps ingesters of overlapping batches from waiting on each other in a cycle.
        # Results of days retention already expired are refused (see sql_retention).
        unique = {r.id: r for r in await self._admit(list({r.id: r for r in results}.values()))}
        if not unique:
            return 0
        ids = sorted(unique)
        rows = [result_row(unique[i]) for i in ids]
        async with self._engine.begin() as conn:
            if self._dialect == "postgresql" and len(rows) >= self.copy_min_rows:
                inserted = await self._copy_results(conn, rows)
            else:
                inserted = await self._insert_results(conn, rows)
            # Only new rows: a replayed result was rolled up when it was first stored.
            await self._roll_up(conn, [unique[i] for i in ids if i in inserted])
        return len(inserted)

    async def _insert_results(
        self, conn: AsyncConnection, rows: list[dict[str, Any]]
    ) -> set[uuid.UUID]:
        """executemany of ``INSERT ... ON CONFLICT DO NOTHING RETURNING id``: the new ids
        (RETURNING lists exactly the new rows; executemany rowcounts are not reliable)."""
        return {row.id for row in await conn.execute(_insert_returning_ids(self._dialect), rows)}

    async def _copy_results(
        self, conn: AsyncConnection, rows: list[dict[str, Any]]
    ) -> set[uuid.UUID]:
        """PostgreSQL: COPY ``rows`` (distinct ids, in id order) into a temporary table, then
        ``INSERT INTO check_results SELECT ... ORDER BY id ON CONFLICT (id, started_at) DO NOTHING
        RETURNING id``: the new ids.

        All in ``conn``'s transaction: the temporary table is dropped at its end (commit or
        rollback), so this works through PgBouncer's transaction pooling. asyncpg prepares the
        COPY's introspection query unnamed when its statement cache is off
        (``statement_cache_size=0``), named and cached otherwise; both are fine, as the
        table's name and columns never change. Values go through the same bind processors as
        the executemany path (UTC datetimes, JSON as text), so both store identical rows.
        """
        # The first execute begins the transaction (SQLAlchemy's asyncpg adapter begins lazily),
        # so the COPY below, on the driver connection, runs inside it.
        await conn.execute(_CREATE_INGEST_TABLE)
        dialect = conn.dialect
        processors = [
            (name, t.check_results.c[name].type.dialect_impl(dialect).bind_processor(dialect))
            for name in _COLUMNS
        ]
        records = [
            tuple(row[name] if fn is None else fn(row[name]) for name, fn in processors)
            for row in rows
        ]
        raw = await conn.get_raw_connection()
        await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
            _INGEST_TABLE, records=records, columns=_COLUMNS
        )
        return {row.id for row in await conn.execute(_INSERT_FROM_INGEST_TABLE)}

    async def latency_samples(
        self, monitor_id: uuid.UUID, start: datetime, end: datetime
    ) -> list[LatencySample]:
        query = sa.select(_r.region, _r.ok, _r.latency_ms).where(
            _r.monitor_id == monitor_id, _r.started_at >= start, _r.started_at < end
        )
        rows = await self._all(query)
        return [LatencySample(region=r.region, ok=r.ok, latency_ms=r.latency_ms) for r in rows]

    async def recent_results(self, monitor_id: uuid.UUID, limit: int) -> list[CheckResult]:
        query = (
            sa.select(t.check_results)
            .where(_r.monitor_id == monitor_id)
            .order_by(_r.started_at.desc(), _r.id.desc())
            .limit(limit)
        )
        rows = await self._all(query)
        return [_result(r) for r in rows]

    async def daily_uptime_raw(
        self, monitor_ids: Sequence[uuid.UUID], start: datetime, end: datetime
    ) -> dict[uuid.UUID, list[DayUptime]]:
        if not monitor_ids:
            return {}
        day = utc_day(self._dialect, _r.started_at).label("day")
        query = (
            sa.select(
                _r.monitor_id,
                day,
                sa.func.count().label("checks"),
                sa.func.sum(sa.case((_r.ok, 1), else_=0)).label("ok"),
                sa.func.sum(sa.case((sa.and_(_r.ok, _r.degraded), 1), else_=0)).label("degraded"),
            )
            .where(
                _r.monitor_id.in_(list(set(monitor_ids))),
                _r.started_at >= start,
                _r.started_at < end,
            )
            .group_by(_r.monitor_id, day)
            .order_by(_r.monitor_id, day)
        )
        rows = await self._all(query)
        days: dict[uuid.UUID, list[DayUptime]] = defaultdict(list)
        for row in rows:
            days[row.monitor_id].append(
                DayUptime(
                    day=row.day, checks=row.checks, ok=int(row.ok), degraded=int(row.degraded)
                )
            )
        return dict(days)


@functools.cache
def _insert_returning_ids(dialect: str) -> sa.Insert:
    return insert_ignoring_duplicates(dialect, t.check_results, *_KEY).returning(_r.id)
