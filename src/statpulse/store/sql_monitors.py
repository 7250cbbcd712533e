"""Monitors and their evaluated state (region states, state-change rows)."""

from __future__ import annotations

import dataclasses
import functools
import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from statpulse.model import (
    Decide,
    DnsOptions,
    Evaluation,
    GrpcOptions,
    HttpOptions,
    LatencyThresholds,
    Monitor,
    MonitorConfig,
    RegionState,
    StateChange,
    Status,
    TcpOptions,
    TlsOptions,
    new_id,
    utcnow,
)
from statpulse.store import schema as t
from statpulse.store.dialect import json_rows, upsert
from statpulse.store.sql_base import from_row
from statpulse.store.sql_keys import KeysMixin


def config_values(c: MonitorConfig) -> dict[str, Any]:
    return {
        "name": c.name,
        "kind": c.kind,
        "target": c.target,
        "interval_s": c.interval_s,
        "timeout_s": c.timeout_s,
        "regions": list(c.regions),
        "http": options_document(c.http),
        "conditions": list(c.conditions),
        "latency_p95_ms": c.latency.p95_ms,
        "latency_p99_ms": c.latency.p99_ms,
        "failure_threshold": c.failure_threshold,
        "recovery_threshold": c.recovery_threshold,
        "options": {
            "tcp": options_document(c.tcp),
            "grpc": options_document(c.grpc),
            "dns": options_document(c.dns),
            "tls": options_document(c.tls),
        },
        "retries": c.retries,
        "retry_delay_s": c.retry_delay_s,
        "grace_s": c.grace_s,
        "depends_on": c.depends_on,
        "confirm_s": c.confirm_s,
    }


def options_document(options: Any) -> dict[str, Any]:
    """An options dataclass as a JSON object (mappings become plain dicts)."""
    return {
        f.name: dict(v) if isinstance(v := getattr(options, f.name), Mapping) else v
        for f in dataclasses.fields(options)
    }


def monitor_from_row(row: sa.Row[Any]) -> Monitor:
    options = row.options or {}
    config = MonitorConfig(
        name=row.name,
        kind=row.kind,
        target=row.target,
        interval_s=row.interval_s,
        timeout_s=row.timeout_s,
        regions=tuple(row.regions),
        http=HttpOptions(**row.http),
        conditions=tuple(row.conditions),
        latency=LatencyThresholds(p95_ms=row.latency_p95_ms, p99_ms=row.latency_p99_ms),
        failure_threshold=row.failure_threshold,
        recovery_threshold=row.recovery_threshold,
        tcp=TcpOptions(**options.get("tcp", {})),
        grpc=GrpcOptions(**options.get("grpc", {})),
        dns=DnsOptions(**options.get("dns", {})),
        tls=TlsOptions(**options.get("tls", {})),
        retries=row.retries,
        retry_delay_s=row.retry_delay_s,
        grace_s=row.grace_s,
        depends_on=row.depends_on,
        confirm_s=row.confirm_s,
    )
    return Monitor(
        id=row.id,
        org_id=row.org_id,
        config=config,
        paused=row.paused,
        status=Status(row.status),
        status_changed_at=row.status_changed_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _scoped(org_id: uuid.UUID, monitor_id: uuid.UUID) -> sa.ColumnElement[bool]:
    return sa.and_(t.monitors.c.id == monitor_id, t.monitors.c.org_id == org_id)


# The hot statements, built once (building one costs about as much as executing it).
_IDS: sa.BindParameter[Any] = sa.bindparam("ids", expanding=True)
_m = t.monitors.c
_BY_ID = sa.select(t.monitors).where(_m.id.in_(_IDS))
_REGIONS = sa.select(_m.id, _m.regions).where(_m.id.in_(_IDS))
_REGION_STATES = sa.select(t.region_states).where(t.region_states.c.monitor_id.in_(_IDS))
_LIVE = sa.select(_m.id).where(_m.id.in_(_IDS), _m.paused.is_(False))


@functools.cache
def _lock(dialect: str) -> sa.Executable:
    """Locks the monitors ``ids`` and returns their rows, each with its region states as JSON
    (``states``): the evaluation's first statement. SQLite has no row locks and ignores FOR
    UPDATE: a first write takes the database's write lock (waiting up to busy_timeout) and
    returns the rows it locked. (SQLite's RETURNING names the monitor's columns bare: in the
    subquery ``id`` is the monitor's, as region_states has no column of that name.)"""
    rs = t.region_states.c
    states = (
        sa.select(
            json_rows(
                dialect,
                rs.region,
                rs.status,
                rs.streak_level,
                rs.streak,
                rs.last_result_at,
                rs.last_error,
            )
        )
        .where(rs.monitor_id == _m.id)
        .correlate(t.monitors)
        .scalar_subquery()
        .label("states")
    )
    if dialect == "sqlite":
        return (
            t.monitors.update()
            .where(_m.id.in_(_IDS))
            .values(status=_m.status)
            .returning(*t.monitors.c, states)
        )
    return (
        sa.select(t.monitors, states)
        .where(_m.id.in_(_IDS), _m.paused.is_(False))
        .order_by(_m.id)
        .with_for_update(of=t.monitors)
    )


def _states_of(monitor_id: uuid.UUID, states: str) -> list[RegionState]:
    """The region states of a ``_lock`` row."""
    return [
        RegionState(
            monitor_id=monitor_id,
            region=region,
            status=Status(status),
            streak_level=Status(level),
            streak=int(streak),
            last_result_at=_utc(at),
            last_error=error,
        )
        for region, status, level, streak, at, error in json.loads(states)
    ]


def _utc(text: str | None) -> datetime | None:
    if text is None:
        return None
    at = datetime.fromisoformat(text)
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


_STATE_CHANGES = (
    sa.select(t.state_changes)
    .where(t.state_changes.c.monitor_id == sa.bindparam("m_id"))
    .order_by(t.state_changes.c.at.desc(), t.state_changes.c.id.desc())
    .limit(sa.bindparam("m_limit"))
)
_SET_STATUS = (
    t.monitors.update()
    .where(_m.id == sa.bindparam("m_id"))
    .values(status=sa.bindparam("m_status"), status_changed_at=sa.bindparam("m_at"))
)
STATUS_WRITES = (_lock("sqlite"), _SET_STATUS)
"""The evaluation's writes to ``monitors``, which change a monitor's status only (caches of
monitor config ignore them: see ``write_watch``)."""


class MonitorsMixin(KeysMixin):
    # Secrets are sealed on write and opened on read (sql_keys): callers see plaintext.
    async def _sealed_values(
        self, org_id: uuid.UUID, monitor_id: uuid.UUID, config: MonitorConfig
    ) -> dict[str, Any]:
        values = config_values(config)
        await self._seal_monitor_documents(org_id, monitor_id, values["http"], values["options"])
        return values

    async def _opened(self, rows: Sequence[sa.Row[Any]]) -> list[Monitor]:
        return [await self._open_monitor(monitor_from_row(row)) for row in rows]

    async def create_monitor(self, org_id: uuid.UUID, config: MonitorConfig) -> Monitor:
        now = utcnow()
        monitor_id = new_id()
        values = await self._sealed_values(org_id, monitor_id, config)
        async with self._engine.begin() as conn:
            await conn.execute(
                t.monitors.insert().values(
                    id=monitor_id,
                    org_id=org_id,
                    paused=False,
                    status=Status.UNKNOWN.value,
                    status_changed_at=now,
                    created_at=now,
                    updated_at=now,
                    **values,
                )
            )
        return Monitor(
            id=monitor_id,
            org_id=org_id,
            config=config,
            paused=False,
            status=Status.UNKNOWN,
            status_changed_at=now,
            created_at=now,
            updated_at=now,
        )

    async def get_monitor(self, org_id: uuid.UUID, monitor_id: uuid.UUID) -> Monitor | None:
        row = await self._first(sa.select(t.monitors).where(_scoped(org_id, monitor_id)))
        return await self._open_monitor(monitor_from_row(row)) if row else None

    async def list_monitors(self, org_id: uuid.UUID) -> list[Monitor]:
        query = (
            sa.select(t.monitors)
            .where(t.monitors.c.org_id == org_id)
            .order_by(t.monitors.c.created_at, t.monitors.c.id)
        )
        return await self._opened(await self._all(query))

    async def update_monitor(
        self, org_id: uuid.UUID, monitor_id: uuid.UUID, config: MonitorConfig
    ) -> Monitor | None:
        values = await self._sealed_values(org_id, monitor_id, config)
        async with self._engine.begin() as conn:
            result = await conn.execute(
                t.monitors.update()
                .where(_scoped(org_id, monitor_id))
                .values(updated_at=utcnow(), **values)
            )
            if result.rowcount == 0:
                return None
        return await self.get_monitor(org_id, monitor_id)

    async def set_paused(
        self, org_id: uuid.UUID, monitor_id: uuid.UUID, paused: bool
    ) -> Monitor | None:
        now = utcnow()
        status = Status.PAUSED if paused else Status.UNKNOWN
        async with self._engine.begin() as conn:
            row = (
                await conn.execute(sa.select(t.monitors).where(_scoped(org_id, monitor_id)))
            ).first()
            if row is None:
                return None
            if row.paused != paused:
                await conn.execute(
                    t.monitors.update()
                    .where(t.monitors.c.id == monitor_id)
                    .values(
                        paused=paused, status=status.value, status_changed_at=now, updated_at=now
                    )
                )
                await conn.execute(
                    t.region_states.delete().where(t.region_states.c.monitor_id == monitor_id)
                )
                await conn.execute(
                    t.state_changes.insert().values(
                        id=new_id(),
                        monitor_id=monitor_id,
                        from_status=row.status,
                        to_status=status.value,
                        at=now,
                        reason="paused" if paused else "resumed",
                    )
                )
        return await self.get_monitor(org_id, monitor_id)

    async def delete_monitor(self, org_id: uuid.UUID, monitor_id: uuid.UUID) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(t.monitors.delete().where(_scoped(org_id, monitor_id)))
            if result.rowcount == 0:
                return False
            # Rollups in the order ingest writes them (see sql_rollups): no lock cycle.
            for table in (t.check_results, t.rollups_minute, t.rollups_hour, t.rollups_day):
                await conn.execute(table.delete().where(table.c.monitor_id == monitor_id))
        return True

    async def unconfirmed_downs(self, changed_since: datetime) -> list[Monitor]:
        """Unpaused monitors with a confirmation window that went down at or after
        ``changed_since`` (what the incident jobs look at, instead of every monitor)."""
        m = t.monitors.c
        query = sa.select(t.monitors).where(
            m.confirm_s > 0,
            m.status == Status.DOWN.value,
            m.paused.is_(False),
            m.status_changed_at >= changed_since,
        )
        return await self._opened(await self._all(query))

    async def monitors_for_region(self, region: str) -> list[Monitor]:
        query = sa.select(t.monitors).where(t.monitors.c.paused.is_(False))
        rows = await self._all(query)
        return await self._opened([r for r in rows if region in r.regions])

    async def monitors_by_id(self, monitor_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Monitor]:
        if not monitor_ids:
            return {}
        monitors = await self._opened(await self._all(_BY_ID, {"ids": list(set(monitor_ids))}))
        return {m.id: m for m in monitors}

    async def monitor_regions(self, monitor_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
        if not monitor_ids:
            return {}
        rows = await self._all(_REGIONS, {"ids": list(set(monitor_ids))})
        return {r.id: list(r.regions) for r in rows}

    async def region_states(self, monitor_ids: Sequence[uuid.UUID]) -> list[RegionState]:
        if not monitor_ids:
            return []
        rows = await self._all(_REGION_STATES, {"ids": list(set(monitor_ids))})
        return [from_row(RegionState, r) for r in rows]

    async def save_evaluation(
        self,
        region_states: Sequence[RegionState],
        monitor_statuses: Mapping[uuid.UUID, tuple[Status, datetime]],
        changes: Sequence[StateChange],
    ) -> None:
        ids = {s.monitor_id for s in region_states} | set(monitor_statuses)
        if not ids:
            return
        async with self._engine.begin() as conn:
            live = await _live_ids(conn, ids)
            await _write_evaluation(
                conn, live, Evaluation(region_states, monitor_statuses, changes)
            )

    async def evaluate_locked(self, monitor_ids: Sequence[uuid.UUID], decide: Decide) -> Evaluation:
        ids = set(monitor_ids)
        if not ids:
            return Evaluation((), {}, ())
        async with self._engine.begin() as conn:
            # FOR UPDATE (ordered by id, so two workers never deadlock) makes a second worker
            # holding results of the same monitors wait here, then read what the first wrote.
            locked = await conn.execute(_lock(conn.dialect.name), {"ids": list(ids)})
            rows = sorted((r for r in locked if not r.paused), key=lambda r: r.id)
            live = {m.id: m for m in await self._opened(rows)}
            states = [s for r in rows for s in _states_of(r.id, r.states)]
            outcome = await decide(live, states)
            await _write_evaluation(conn, set(live), outcome)
            return outcome

    async def state_changes(self, monitor_id: uuid.UUID, limit: int) -> list[StateChange]:
        rows = await self._all(_STATE_CHANGES, {"m_id": monitor_id, "m_limit": limit})
        return [from_row(StateChange, r) for r in rows]


async def _live_ids(conn: AsyncConnection, ids: set[uuid.UUID]) -> set[uuid.UUID]:
    """The monitors among ``ids`` that still exist and are not paused (those deleted or paused
    while their results were in flight are skipped)."""
    return {row.id for row in await conn.execute(_LIVE, {"ids": list(ids)})}


async def _write_evaluation(conn: AsyncConnection, live: set[uuid.UUID], ev: Evaluation) -> None:
    rows = [
        {
            "monitor_id": s.monitor_id,
            "region": s.region,
            "status": s.status.value,
            "streak_level": s.streak_level.value,
            "streak": s.streak,
            "last_result_at": s.last_result_at,
            "last_error": s.last_error,
        }
        for s in ev.region_states
        if s.monitor_id in live
    ]
    if rows:
        stmt = upsert(
            conn.dialect.name,
            t.region_states,
            ["monitor_id", "region"],
            ["status", "streak_level", "streak", "last_result_at", "last_error"],
        )
        await conn.execute(stmt, rows)
    for monitor_id, (status, at) in ev.monitor_statuses.items():
        if monitor_id in live:
            await conn.execute(
                _SET_STATUS, {"m_id": monitor_id, "m_status": status.value, "m_at": at}
            )
    change_rows = [
        {
            "id": c.id,
            "monitor_id": c.monitor_id,
            "from_status": c.from_status.value,
            "to_status": c.to_status.value,
            "at": c.at,
            "reason": c.reason,
        }
        for c in ev.changes
        if c.monitor_id in live
    ]
    if change_rows:
        await conn.execute(t.state_changes.insert(), change_rows)
