"""Push state of heartbeat monitors: tokens, ping times, and the sweeper's conditional claims.

Every change bumps ``version``; the sweeper writes a silence failure only after a conditional
UPDATE (``WHERE version = <what it read>``) succeeded, so several processes sweeping at once
write it once, and a ping recorded meanwhile cancels it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from statpulse.model import Monitor
from statpulse.store import schema as t
from statpulse.store.contract import HEARTBEAT_KIND, HeartbeatState, Signal
from statpulse.store.dialect import insert_ignoring_duplicates
from statpulse.store.sql_base import SqlBase
from statpulse.store.sql_monitors import monitor_from_row

_h = t.heartbeats.c
_LAST_AT = {
    Signal.START: "last_start_at",
    Signal.SUCCESS: "last_success_at",
    Signal.FAIL: "last_fail_at",
}


def _state(row: sa.Row[Any]) -> HeartbeatState:
    return HeartbeatState(
        monitor_id=row.hb_monitor_id,
        token=row.hb_token,
        since_at=row.hb_since_at,
        last_success_at=row.hb_last_success_at,
        last_fail_at=row.hb_last_fail_at,
        last_start_at=row.hb_last_start_at,
        last_overdue_at=row.hb_last_overdue_at,
        version=row.hb_version,
    )


def _with_state() -> sa.Select[Any]:
    """Heartbeat monitors joined with their push state (state columns prefixed ``hb_``)."""
    state = [c.label(f"hb_{c.name}") for c in t.heartbeats.c]
    return (
        sa.select(t.monitors, *state)
        .select_from(t.heartbeats.join(t.monitors, t.monitors.c.id == _h.monitor_id))
        .where(t.monitors.c.kind == HEARTBEAT_KIND)
    )


class HeartbeatsMixin(SqlBase):
    async def ensure_heartbeat(self, monitor_id: uuid.UUID, token: str, at: datetime) -> str:
        async with self._engine.begin() as conn:
            await conn.execute(
                insert_ignoring_duplicates(self._dialect, t.heartbeats, "monitor_id").values(
                    monitor_id=monitor_id, token=token, since_at=at, version=0
                )
            )
            stored = await conn.scalar(sa.select(_h.token).where(_h.monitor_id == monitor_id))
        return str(stored)

    async def push_tokens(self, monitor_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
        if not monitor_ids:
            return {}
        query = sa.select(_h.monitor_id, _h.token).where(_h.monitor_id.in_(list(set(monitor_ids))))
        return {row.monitor_id: row.token for row in await self._all(query)}

    async def rotate_push_token(self, org_id: uuid.UUID, monitor_id: uuid.UUID, token: str) -> bool:
        owned = sa.select(t.monitors.c.id).where(
            t.monitors.c.id == monitor_id, t.monitors.c.org_id == org_id
        )
        async with self._engine.begin() as conn:
            result = await conn.execute(
                t.heartbeats.update()
                .where(_h.monitor_id.in_(owned.scalar_subquery()))
                .values(token=token, version=_h.version + 1)
            )
        return result.rowcount == 1

    async def heartbeat_by_token(self, token: str) -> tuple[Monitor, HeartbeatState] | None:
        row = await self._first(_with_state().where(_h.token == token))
        return (monitor_from_row(row), _state(row)) if row else None

    async def due_heartbeats(self) -> list[tuple[Monitor, HeartbeatState]]:
        rows = await self._all(_with_state().where(t.monitors.c.paused.is_(False)))
        return [(monitor_from_row(row), _state(row)) for row in rows]

    async def record_ping(self, monitor_id: uuid.UUID, signal: Signal, at: datetime) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                t.heartbeats.update()
                .where(_h.monitor_id == monitor_id)
                .values({_LAST_AT[signal]: at, "version": _h.version + 1})
            )

    async def restart_heartbeat(
        self, org_id: uuid.UUID, monitor_id: uuid.UUID, at: datetime
    ) -> None:
        owned = sa.select(t.monitors.c.id).where(
            t.monitors.c.id == monitor_id, t.monitors.c.org_id == org_id
        )
        async with self._engine.begin() as conn:
            await conn.execute(
                t.heartbeats.update()
                .where(_h.monitor_id.in_(owned.scalar_subquery()))
                .values(since_at=at, version=_h.version + 1)
            )

    async def claim_overdue(self, monitor_id: uuid.UUID, version: int, deadline: datetime) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(
                t.heartbeats.update()
                .where(_h.monitor_id == monitor_id, _h.version == version)
                .values(last_overdue_at=deadline, version=_h.version + 1)
            )
        return result.rowcount == 1
