"""Draft incidents written by the engine when a monitor goes down (quorum), one per outage.

"One per outage" is the partial unique index ``ix_incidents_monitor_id_open`` (monitor_id where
resolved_at is null): however many workers see the same outage at once, one insert wins and the
others do nothing. A draft has no ``published_at``; publishing and the rest of the workflow are
the incidents issue's. A draft still unpublished when its monitor recovers is resolved.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from statpulse.model import new_id
from statpulse.store import schema as t
from statpulse.store.sql_base import SqlBase

_i = t.incidents.c
_OPEN = sa.text("resolved_at IS NULL")
AUTHOR = "StatPulse"


@dataclass(frozen=True, slots=True)
class Incident:
    id: uuid.UUID
    org_id: uuid.UUID
    monitor_id: uuid.UUID | None
    title: str
    status: str
    impact: str
    published_at: datetime | None
    started_at: datetime
    resolved_at: datetime | None
    updates: tuple[dict[str, Any], ...] = ()


class IncidentsMixin(SqlBase):
    async def open_draft_incident(
        self,
        org_id: uuid.UUID,
        monitor_id: uuid.UUID,
        title: str,
        body: str,
        at: datetime,
        impact: str = "major",
    ) -> uuid.UUID | None:
        """Create the draft of ``monitor_id``'s outage with its first update; None when the
        monitor already has an open incident (the database decides, under concurrency)."""
        values = {
            "id": new_id(),
            "org_id": org_id,
            "monitor_id": monitor_id,
            "title": title[:300],
            "status": "investigating",
            "impact": impact,
            "published_at": None,
            "started_at": at,
            "resolved_at": None,
            "created_at": at,
            "updated_at": at,
        }
        dialect: Any = postgresql if self._dialect == "postgresql" else sqlite
        stmt = (
            dialect.insert(t.incidents)
            .values(values)
            .on_conflict_do_nothing(index_elements=["monitor_id"], index_where=_OPEN)
            .returning(_i.id)
        )
        async with self._engine.begin() as conn:
            incident_id = (await conn.execute(stmt)).scalar()
            if incident_id is None:
                return None
            await _add_update(conn, incident_id, "investigating", body, at)
        return incident_id  # type: ignore[no-any-return]

    async def resolve_drafts(self, monitor_id: uuid.UUID, at: datetime, body: str) -> int:
        """Resolve the monitor's open, unpublished incident (it recovered before anyone
        published it); the number resolved (0 or 1)."""
        async with self._engine.begin() as conn:
            ids = (
                (
                    await conn.execute(
                        t.incidents.update()
                        .where(_i.monitor_id == monitor_id, _i.resolved_at.is_(None))
                        .where(_i.published_at.is_(None))
                        .values(status="resolved", resolved_at=at, updated_at=at)
                        .returning(_i.id)
                    )
                )
                .scalars()
                .all()
            )
            for incident_id in ids:
                await _add_update(conn, incident_id, "resolved", body, at)
        return len(ids)

    async def list_incidents(self, org_id: uuid.UUID, limit: int = 50) -> list[Incident]:
        query = (
            sa.select(t.incidents)
            .where(_i.org_id == org_id)
            .order_by(_i.started_at.desc(), _i.id.desc())
            .limit(limit)
        )
        rows = await self._all(query)
        if not rows:
            return []
        u = t.incident_updates.c
        updates: dict[uuid.UUID, list[dict[str, Any]]] = {row.id: [] for row in rows}
        for up in await self._all(
            sa.select(t.incident_updates)
            .where(u.incident_id.in_(list(updates)))
            .order_by(u.created_at, u.id)
        ):
            updates[up.incident_id].append(
                {"status": up.status, "body": up.body, "author": up.author, "at": up.created_at}
            )
        return [
            Incident(
                id=row.id,
                org_id=row.org_id,
                monitor_id=row.monitor_id,
                title=row.title,
                status=row.status,
                impact=row.impact,
                published_at=row.published_at,
                started_at=row.started_at,
                resolved_at=row.resolved_at,
                updates=tuple(updates[row.id]),
            )
            for row in rows
        ]


async def _add_update(
    conn: AsyncConnection, incident_id: uuid.UUID, status: str, body: str, at: datetime
) -> None:
    await conn.execute(
        t.incident_updates.insert().values(
            id=new_id(),
            incident_id=incident_id,
            status=status,
            body=body,
            author=AUTHOR,
            created_at=at,
        )
    )
