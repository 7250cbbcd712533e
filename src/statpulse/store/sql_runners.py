"""Health reports of remote runners: the last one per (region, runner)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from statpulse.store import schema as t
from statpulse.store.dialect import upsert
from statpulse.store.sql_base import SqlBase, from_row

_h = t.runner_health.c


@dataclass(frozen=True, slots=True)
class RunnerHealth:
    region: str
    runner: str
    """The runner's identity: its certificate's serial number in hex."""
    version: str
    clock_offset_ms: float | None
    spool_depth: int
    spool_full: bool
    lateness_p99_ms: float | None
    last_seen_at: datetime


class RunnersMixin(SqlBase):
    async def record_runner_health(self, health: RunnerHealth) -> None:
        columns = [c.name for c in t.runner_health.columns if c.name not in ("region", "runner")]
        stmt = upsert(self._dialect, t.runner_health, ["region", "runner"], columns)
        async with self._engine.begin() as conn:
            await conn.execute(
                stmt,
                {
                    "region": health.region,
                    "runner": health.runner,
                    "version": health.version,
                    "clock_offset_ms": health.clock_offset_ms,
                    "spool_depth": health.spool_depth,
                    "spool_full": health.spool_full,
                    "lateness_p99_ms": health.lateness_p99_ms,
                    "last_seen_at": health.last_seen_at,
                },
            )

    async def runner_health(self) -> list[RunnerHealth]:
        query = sa.select(t.runner_health).order_by(_h.region, _h.runner)
        return [from_row(RunnerHealth, row) for row in await self._all(query)]
