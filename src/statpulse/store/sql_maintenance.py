"""Maintenance windows and manual component overrides, each change audited in its transaction.

A maintenance's ``window`` column holds the fields of ``engine.maintenance.MaintenanceWindow``
(instants and times as ISO 8601 text); callers validate windows (``maintenance.validate``)
before storing them. An override is at most one row per component (engine.alerting.Override
values); clearing deletes it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from statpulse.engine.incidents import Override
from statpulse.engine.maintenance import MaintenanceWindow, WindowKind
from statpulse.model import new_id
from statpulse.store import schema as t
from statpulse.store.sql_audit import insert_audit
from statpulse.store.sql_base import SqlBase

_m = t.maintenances.c
_o = t.component_overrides.c


@dataclass(frozen=True, slots=True)
class Maintenance:
    id: uuid.UUID
    org_id: uuid.UUID
    title: str
    body: str
    window: MaintenanceWindow
    components: tuple[uuid.UUID, ...]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ComponentOverride:
    component_id: uuid.UUID
    org_id: uuid.UUID
    status: Override
    reason: str
    set_by: str
    set_at: datetime


def window_document(window: MaintenanceWindow) -> dict[str, Any]:
    """The JSON form of a window (the ``window`` column, audit rows and API bodies)."""
    return {
        "kind": window.kind.value,
        "timezone": window.timezone,
        "start": window.start.isoformat() if window.start else None,
        "end": window.end.isoformat() if window.end else None,
        "weekdays": list(window.weekdays),
        "start_time": window.start_time.isoformat() if window.start_time else None,
        "rrule": window.rrule,
        "cron": window.cron,
        "duration_s": window.duration_s,
    }


def window_from_document(doc: dict[str, Any]) -> MaintenanceWindow:
    def instant(value: str | None) -> datetime | None:
        return datetime.fromisoformat(value) if value else None

    return MaintenanceWindow(
        kind=WindowKind(doc["kind"]),
        timezone=doc["timezone"],
        start=instant(doc.get("start")),
        end=instant(doc.get("end")),
        weekdays=tuple(doc.get("weekdays") or ()),
        start_time=time.fromisoformat(doc["start_time"]) if doc.get("start_time") else None,
        rrule=doc.get("rrule"),
        cron=doc.get("cron"),
        duration_s=int(doc.get("duration_s") or 0),
    )


def maintenance_document(m: Maintenance) -> dict[str, Any]:
    """What the audit log records of a maintenance."""
    return {
        "title": m.title,
        "body": m.body,
        "window": window_document(m.window),
        "components": [str(c) for c in m.components],
    }


def _maintenance(row: sa.Row[Any]) -> Maintenance:
    return Maintenance(
        id=row.id,
        org_id=row.org_id,
        title=row.title,
        body=row.body,
        window=window_from_document(row.window),
        components=tuple(uuid.UUID(c) for c in row.components),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _override(row: sa.Row[Any]) -> ComponentOverride:
    return ComponentOverride(
        component_id=row.component_id,
        org_id=row.org_id,
        status=Override(row.status),
        reason=row.reason,
        set_by=row.set_by,
        set_at=row.set_at,
    )


def _override_document(o: ComponentOverride) -> dict[str, Any]:
    return {"status": o.status.value, "reason": o.reason, "set_by": o.set_by}


class MaintenanceMixin(SqlBase):
    async def create_maintenance(
        self,
        org_id: uuid.UUID,
        actor: str,
        title: str,
        body: str,
        window: MaintenanceWindow,
        components: tuple[uuid.UUID, ...],
        at: datetime,
    ) -> Maintenance:
        m = Maintenance(new_id(), org_id, title, body, window, components, at, at)
        async with self._engine.begin() as conn:
            await conn.execute(
                t.maintenances.insert().values(
                    id=m.id,
                    org_id=org_id,
                    title=title,
                    body=body,
                    window=window_document(window),
                    components=[str(c) for c in components],
                    created_at=at,
                    updated_at=at,
                )
            )
            await insert_audit(
                conn,
                org_id,
                actor,
                "maintenance.create",
                "maintenance",
                m.id,
                None,
                maintenance_document(m),
                at,
            )
        return m

    async def get_maintenance(
        self, org_id: uuid.UUID, maintenance_id: uuid.UUID
    ) -> Maintenance | None:
        row = await self._first(
            sa.select(t.maintenances).where(_m.org_id == org_id, _m.id == maintenance_id)
        )
        return _maintenance(row) if row else None

    async def list_maintenances(self, org_id: uuid.UUID) -> list[Maintenance]:
        query = (
            sa.select(t.maintenances)
            .where(_m.org_id == org_id)
            .order_by(_m.created_at.desc(), _m.id.desc())
        )
        return [_maintenance(r) for r in await self._all(query)]

    async def update_maintenance(
        self,
        org_id: uuid.UUID,
        maintenance_id: uuid.UUID,
        actor: str,
        title: str,
        body: str,
        window: MaintenanceWindow,
        components: tuple[uuid.UUID, ...],
        at: datetime,
    ) -> Maintenance | None:
        async with self._engine.begin() as conn:
            current = await _locked_maintenance(conn, org_id, maintenance_id)
            if current is None:
                return None
            await conn.execute(
                t.maintenances.update()
                .where(_m.id == maintenance_id)
                .values(
                    title=title,
                    body=body,
                    window=window_document(window),
                    components=[str(c) for c in components],
                    updated_at=at,
                )
            )
            updated = Maintenance(
                current.id,
                org_id,
                title,
                body,
                window,
                components,
                current.created_at,
                at,
            )
            await insert_audit(
                conn,
                org_id,
                actor,
                "maintenance.update",
                "maintenance",
                maintenance_id,
                maintenance_document(current),
                maintenance_document(updated),
                at,
            )
        return updated

    async def delete_maintenance(
        self, org_id: uuid.UUID, maintenance_id: uuid.UUID, actor: str, at: datetime
    ) -> bool:
        async with self._engine.begin() as conn:
            current = await _locked_maintenance(conn, org_id, maintenance_id)
            if current is None:
                return False
            await conn.execute(t.maintenances.delete().where(_m.id == maintenance_id))
            await insert_audit(
                conn,
                org_id,
                actor,
                "maintenance.delete",
                "maintenance",
                maintenance_id,
                maintenance_document(current),
                None,
                at,
            )
        return True

    # component overrides

    async def set_override(
        self,
        org_id: uuid.UUID,
        component_id: uuid.UUID,
        actor: str,
        status: Override,
        reason: str,
        at: datetime,
    ) -> ComponentOverride | None:
        """Set (or replace) the component's override; None when the component is not the
        organisation's."""
        c = t.components.c
        async with self._engine.begin() as conn:
            # Holding the component serializes overrides of it (and proves it is the org's).
            if not await held_rows(conn, c.name, c.id == component_id, c.org_id == org_id):
                return None
            before = await _locked_override(conn, component_id)
            values = {
                "org_id": org_id,
                "status": status.value,
                "reason": reason,
                "set_by": actor,
                "set_at": at,
            }
            dialect: Any = postgresql if self._dialect == "postgresql" else sqlite
            await conn.execute(
                dialect.insert(t.component_overrides)
                .values(component_id=component_id, **values)
                .on_conflict_do_update(index_elements=["component_id"], set_=values)
            )
            after = ComponentOverride(component_id, org_id, status, reason, actor, at)
            await insert_audit(
                conn,
                org_id,
                actor,
                "override.set",
                "component",
                component_id,
                _override_document(before) if before else None,
                _override_document(after),
                at,
            )
        return after

    async def clear_override(
        self, org_id: uuid.UUID, component_id: uuid.UUID, actor: str, at: datetime
    ) -> bool:
        """Remove the component's override; False when it had none (or is not the org's)."""
        async with self._engine.begin() as conn:
            before = await _locked_override(conn, component_id)
            if before is None or before.org_id != org_id:
                return False
            await conn.execute(
                t.component_overrides.delete().where(_o.component_id == component_id)
            )
            await insert_audit(
                conn,
                org_id,
                actor,
                "override.clear",
                "component",
                component_id,
                _override_document(before),
                None,
                at,
            )
        return True

    async def list_overrides(self, org_id: uuid.UUID) -> list[ComponentOverride]:
        query = (
            sa.select(t.component_overrides)
            .where(_o.org_id == org_id)
            .order_by(_o.set_at, _o.component_id)
        )
        return [_override(r) for r in await self._all(query)]


async def held_rows(
    conn: AsyncConnection, column: sa.Column[Any], *where: sa.ColumnElement[bool]
) -> list[sa.Row[Any]]:
    """The rows of ``column``'s table matching ``where``, held until ``conn`` commits.

    A no-op write (``column`` set to itself) rather than ``SELECT ... FOR UPDATE``: it locks
    the rows on PostgreSQL and takes SQLite's write lock up front, so a read-then-write
    transaction never fails to upgrade its lock when another writer got in between."""
    table = column.table
    assert isinstance(table, sa.Table)
    stmt = table.update().where(*where).values({column.name: column}).returning(*table.c)
    return list((await conn.execute(stmt)).all())


async def _locked_maintenance(
    conn: AsyncConnection, org_id: uuid.UUID, maintenance_id: uuid.UUID
) -> Maintenance | None:
    rows = await held_rows(conn, _m.updated_at, _m.org_id == org_id, _m.id == maintenance_id)
    return _maintenance(rows[0]) if rows else None


async def _locked_override(
    conn: AsyncConnection, component_id: uuid.UUID
) -> ComponentOverride | None:
    rows = await held_rows(conn, _o.set_at, _o.component_id == component_id)
    return _override(rows[0]) if rows else None
