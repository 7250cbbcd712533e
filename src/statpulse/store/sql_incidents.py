"""Incidents: the engine's drafts and the manual workflow (create, timeline updates, publish,
resolve, auto-publish), each change audited in its own transaction.

"One open incident per monitor" is the partial unique index ``ix_incidents_monitor_id_open``
(monitor_id where resolved_at is null): however many workers see the same outage at once, one
insert wins and the others do nothing (drafts) or get ``Conflict`` (manual creation).

A draft has no ``published_at`` and is not public. Publishing sets ``published_at`` and TTPU
(``ttpu_s``, ``engine.incidents.time_to_public_update``) once. Status moves are checked with
``engine.incidents.transition`` inside the transaction that holds the incident's row, so an
invalid move raises ``InvalidTransition`` and changes nothing.

``IncidentsMixin`` also brings in the maintenance, override and audit mixins, so ``SqlStore``
gets all of the workflow through this one base.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from statpulse.engine.incidents import (
    OPEN,
    Impact,
    IncidentState,
    auto_publish_due,
    time_to_public_update,
    transition,
)
from statpulse.model import new_id
from statpulse.store import schema as t
from statpulse.store.contract import Conflict
from statpulse.store.sql_audit import SYSTEM_ACTOR, AuditMixin, insert_audit
from statpulse.store.sql_base import SqlBase
from statpulse.store.sql_maintenance import MaintenanceMixin, held_rows

_i = t.incidents.c
_u = t.incident_updates.c
_s = t.org_settings.c
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
    """Oldest first: ``{"id", "status", "body", "author", "at"}``."""
    ttpu_s: float | None = None
    auto_resolve: bool = True
    components: tuple[uuid.UUID, ...] = ()


def incident_document(row: sa.Row[Any] | Incident) -> dict[str, Any]:
    """What the audit log records of an incident (before and after a change)."""
    return {
        "title": row.title,
        "status": row.status,
        "impact": row.impact,
        "monitor_id": row.monitor_id,
        "components": list(row.components),
        "auto_resolve": row.auto_resolve,
        "started_at": row.started_at,
        "published_at": row.published_at,
        "resolved_at": row.resolved_at,
        "ttpu_s": row.ttpu_s,
    }


class IncidentsMixin(MaintenanceMixin, AuditMixin, SqlBase):
    # drafts (the engine)

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
        values = _new_row(org_id, monitor_id, title, IncidentState.INVESTIGATING, impact, at, at)
        async with self._engine.begin() as conn:
            row = await self._insert_open(conn, values)
            if row is None:
                return None
            await _add_update(conn, row.id, IncidentState.INVESTIGATING, body, AUTHOR, at)
            await insert_audit(
                conn,
                org_id,
                SYSTEM_ACTOR,
                "incident.draft",
                "incident",
                row.id,
                None,
                incident_document(row),
                at,
            )
        return row.id  # type: ignore[no-any-return]

    async def rewrite_draft(
        self, incident_id: uuid.UUID, title: str, body: str, at: datetime
    ) -> bool:
        """Replace the title and first update of a draft nobody published or updated yet (the
        engine's own text, rewritten); False when it was published, resolved or updated."""
        u = t.incident_updates.c
        async with self._engine.begin() as conn:
            held = await held_rows(
                conn,
                _i.updated_at,
                _i.id == incident_id,
                _i.published_at.is_(None),
                _i.resolved_at.is_(None),
            )
            if not held:
                return False
            updates = (
                await conn.execute(sa.select(u.id).where(u.incident_id == incident_id))
            ).all()
            if len(updates) != 1:
                return False
            before = held[0]
            after = (
                await conn.execute(
                    t.incidents.update()
                    .where(_i.id == incident_id)
                    .values(title=title[:300], updated_at=at)
                    .returning(*t.incidents.c)
                )
            ).one()
            await conn.execute(
                t.incident_updates.update().where(u.id == updates[0].id).values(body=body)
            )
            await insert_audit(
                conn, before.org_id, SYSTEM_ACTOR, "incident.rewrite", "incident", incident_id,
                incident_document(before), {**incident_document(after), "body": body}, at,
            )  # fmt: skip
        return True

    async def resolve_drafts(self, monitor_id: uuid.UUID, at: datetime, body: str) -> int:
        """Resolve the monitor's open incident when it was never published or is set to
        ``auto_resolve``; the number resolved (0 or 1)."""
        async with self._engine.begin() as conn:
            rows = await held_rows(
                conn,
                _i.updated_at,
                _i.monitor_id == monitor_id,
                _i.resolved_at.is_(None),
                sa.or_(_i.published_at.is_(None), _i.auto_resolve.is_(True)),
            )
            for before in rows:
                after = (
                    await conn.execute(
                        t.incidents.update()
                        .where(_i.id == before.id, _i.resolved_at.is_(None))
                        .values(status=IncidentState.RESOLVED.value, resolved_at=at, updated_at=at)
                        .returning(*t.incidents.c)
                    )
                ).one()
                await _add_update(conn, before.id, IncidentState.RESOLVED, body, AUTHOR, at)
                await insert_audit(
                    conn,
                    before.org_id,
                    SYSTEM_ACTOR,
                    "incident.auto_resolve",
                    "incident",
                    before.id,
                    incident_document(before),
                    incident_document(after),
                    at,
                )
        return len(rows)

    # the manual workflow

    async def create_incident(
        self,
        org_id: uuid.UUID,
        actor: str,
        author: str,
        *,
        title: str,
        body: str,
        at: datetime,
        status: IncidentState = IncidentState.INVESTIGATING,
        impact: Impact = Impact.MINOR,
        components: Sequence[uuid.UUID] = (),
        monitor_id: uuid.UUID | None = None,
        auto_resolve: bool = True,
        publish: bool = False,
        started_at: datetime | None = None,
    ) -> Incident:
        """A new open incident with its first update; published at once when ``publish``.

        Raises ``ValueError`` naming ``status`` for a status that is not open, and
        ``Conflict(field="monitor_id")`` when the monitor already has an open incident."""
        if status not in OPEN:
            raise ValueError(f"status: a new incident must be open, not {status}")
        start = started_at or at
        values = _new_row(org_id, monitor_id, title, status, impact, start, at)
        values.update(auto_resolve=auto_resolve, components=[str(c) for c in components])
        if publish:
            values.update(published_at=at, ttpu_s=_ttpu(start, at))
        async with self._engine.begin() as conn:
            row = await self._insert_open(conn, values)
            if row is None:
                raise Conflict("monitor_id", "this monitor already has an open incident")
            await _add_update(conn, row.id, status, body, author, at)
            await insert_audit(
                conn,
                org_id,
                actor,
                "incident.create",
                "incident",
                row.id,
                None,
                {**incident_document(row), "update": {"status": status.value, "body": body}},
                at,
            )
        found = await self.get_incident(org_id, row.id)
        assert found is not None
        return found

    async def get_incident(self, org_id: uuid.UUID, incident_id: uuid.UUID) -> Incident | None:
        row = await self._first(
            sa.select(t.incidents).where(_i.org_id == org_id, _i.id == incident_id)
        )
        return (await self._with_updates([row]))[0] if row else None

    async def list_incidents(self, org_id: uuid.UUID, limit: int = 50) -> list[Incident]:
        return await self.incident_page(org_id, limit)

    async def incident_page(
        self,
        org_id: uuid.UUID,
        limit: int,
        before: tuple[datetime, uuid.UUID] | None = None,
        drafts: bool = True,
    ) -> list[Incident]:
        """Newest first (started_at, then id), each with its updates; ``before``: the
        (started_at, id) of the last incident of the previous page."""
        query = sa.select(t.incidents).where(_i.org_id == org_id)
        if before is not None:
            start, incident_id = before
            query = query.where(
                sa.or_(_i.started_at < start, sa.and_(_i.started_at == start, _i.id < incident_id))
            )
        if not drafts:
            query = query.where(_i.published_at.is_not(None))
        query = query.order_by(_i.started_at.desc(), _i.id.desc()).limit(limit)
        return await self._with_updates(await self._all(query))

    async def add_incident_update(
        self,
        org_id: uuid.UUID,
        incident_id: uuid.UUID,
        actor: str,
        author: str,
        *,
        status: IncidentState,
        body: str,
        at: datetime,
        impact: Impact | None = None,
        components: Sequence[uuid.UUID] | None = None,
    ) -> Incident | None:
        """Append a timeline entry moving the incident to ``status`` (resolving sets
        ``resolved_at``; reopening clears it); None when the org has no such incident.

        Raises ``InvalidTransition`` (nothing changes), or ``Conflict(field="status")`` when a
        reopened incident's monitor already has another open incident."""
        try:
            async with self._engine.begin() as conn:
                # Concurrent updates of one incident apply one after the other.
                held = await held_rows(
                    conn, _i.updated_at, _i.org_id == org_id, _i.id == incident_id
                )
                if not held:
                    return None
                before = held[0]
                new = transition(IncidentState(before.status), status)
                values: dict[str, Any] = {"status": new.value, "updated_at": at}
                if new is IncidentState.RESOLVED and before.resolved_at is None:
                    values["resolved_at"] = at
                elif new in OPEN:
                    values["resolved_at"] = None
                if impact is not None:
                    values["impact"] = impact.value
                if components is not None:
                    values["components"] = [str(c) for c in components]
                after = (
                    await conn.execute(
                        t.incidents.update()
                        .where(_i.id == incident_id)
                        .values(values)
                        .returning(*t.incidents.c)
                    )
                ).one()
                await _add_update(conn, incident_id, new, body, author, at)
                await insert_audit(
                    conn,
                    org_id,
                    actor,
                    "incident.update",
                    "incident",
                    incident_id,
                    incident_document(before),
                    {**incident_document(after), "update": {"status": new.value, "body": body}},
                    at,
                )
        except sa.exc.IntegrityError as exc:
            raise Conflict("status", "the monitor already has another open incident") from exc
        return await self.get_incident(org_id, incident_id)

    async def publish_incident(
        self, org_id: uuid.UUID, incident_id: uuid.UUID, actor: str, at: datetime
    ) -> Incident | None:
        """Make a draft public, recording TTPU; publishing again changes nothing. None when
        the org has no such incident."""
        async with self._engine.begin() as conn:
            await _publish(conn, org_id, incident_id, actor, at)
        return await self.get_incident(org_id, incident_id)

    async def auto_publish_due_drafts(self, now: datetime) -> list[uuid.UUID]:
        """Publish every open draft whose organisation turned auto-publishing on and whose
        delay (``engine.incidents.auto_publish_due``) has passed at ``now``; their ids. Meant
        for a periodic job; concurrent callers publish each draft once."""
        query = (
            sa.select(_i.id, _i.org_id, _i.created_at, _s.auto_publish_after_s)
            .join(t.org_settings, _s.org_id == _i.org_id)
            .where(_s.auto_publish_after_s.is_not(None))
            .where(_i.published_at.is_(None), _i.resolved_at.is_(None))
        )
        published = []
        for row in await self._all(query):
            if not auto_publish_due(row.created_at, now, row.auto_publish_after_s):
                continue
            async with self._engine.begin() as conn:
                if await _publish(conn, row.org_id, row.id, SYSTEM_ACTOR, now):
                    published.append(row.id)
        return published

    # organisation settings

    async def get_auto_publish(self, org_id: uuid.UUID) -> int | None:
        """Seconds after which drafts are published automatically; None: never (default)."""
        row = await self._first(sa.select(_s.auto_publish_after_s).where(_s.org_id == org_id))
        return row.auto_publish_after_s if row else None

    async def set_auto_publish(
        self, org_id: uuid.UUID, actor: str, seconds: int | None, at: datetime
    ) -> None:
        values = {"auto_publish_after_s": seconds, "updated_at": at}
        dialect: Any = postgresql if self._dialect == "postgresql" else sqlite
        async with self._engine.begin() as conn:
            o = t.organizations.c
            await held_rows(conn, o.name, o.id == org_id)  # one settings change at a time
            current = (
                await conn.execute(sa.select(_s.auto_publish_after_s).where(_s.org_id == org_id))
            ).first()
            await conn.execute(
                dialect.insert(t.org_settings)
                .values(org_id=org_id, **values)
                .on_conflict_do_update(index_elements=["org_id"], set_=values)
            )
            await insert_audit(
                conn,
                org_id,
                actor,
                "settings.update",
                "organization",
                org_id,
                {"auto_publish_after_s": current.auto_publish_after_s if current else None},
                {"auto_publish_after_s": seconds},
                at,
            )

    # helpers

    async def _insert_open(
        self, conn: AsyncConnection, values: dict[str, Any]
    ) -> sa.Row[Any] | None:
        """Insert an incident; None when its monitor already has an open one."""
        dialect: Any = postgresql if self._dialect == "postgresql" else sqlite
        stmt = dialect.insert(t.incidents).values(values)
        if values["monitor_id"] is not None:
            stmt = stmt.on_conflict_do_nothing(index_elements=["monitor_id"], index_where=_OPEN)
        row: sa.Row[Any] | None = (await conn.execute(stmt.returning(*t.incidents.c))).first()
        return row

    async def _with_updates(self, rows: Sequence[sa.Row[Any]]) -> list[Incident]:
        if not rows:
            return []
        updates: dict[uuid.UUID, list[dict[str, Any]]] = {row.id: [] for row in rows}
        for up in await self._all(
            sa.select(t.incident_updates)
            .where(_u.incident_id.in_(list(updates)))
            .order_by(_u.created_at, _u.id)
        ):
            updates[up.incident_id].append(
                {
                    "id": up.id,
                    "status": up.status,
                    "body": up.body,
                    "author": up.author,
                    "at": up.created_at,
                }
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
                ttpu_s=row.ttpu_s,
                auto_resolve=row.auto_resolve,
                components=tuple(uuid.UUID(c) for c in row.components),
            )
            for row in rows
        ]


def _ttpu(started_at: datetime, published_at: datetime) -> float:
    return time_to_public_update(started_at, published_at).total_seconds()


def _new_row(
    org_id: uuid.UUID,
    monitor_id: uuid.UUID | None,
    title: str,
    status: IncidentState,
    impact: str,
    started_at: datetime,
    at: datetime,
) -> dict[str, Any]:
    return {
        "id": new_id(),
        "org_id": org_id,
        "monitor_id": monitor_id,
        "title": title[:300],
        "status": status.value,
        "impact": impact,
        "published_at": None,
        "started_at": started_at,
        "resolved_at": None,
        "created_at": at,
        "updated_at": at,
        "ttpu_s": None,
        "auto_resolve": True,
        "components": [],
    }


async def _publish(
    conn: AsyncConnection, org_id: uuid.UUID, incident_id: uuid.UUID, actor: str, at: datetime
) -> bool:
    """Publish the org's draft in ``conn``'s transaction; False when there is no such
    incident or it was already published (the conditional update lets only one caller win)."""
    held = await held_rows(conn, _i.updated_at, _i.org_id == org_id, _i.id == incident_id)
    if not held or held[0].published_at is not None:
        return False
    found = held[0]
    after = (
        await conn.execute(
            t.incidents.update()
            .where(_i.id == incident_id, _i.published_at.is_(None))
            .values(published_at=at, ttpu_s=_ttpu(found.started_at, at), updated_at=at)
            .returning(*t.incidents.c)
        )
    ).first()
    if after is None:
        return False
    await insert_audit(
        conn,
        org_id,
        actor,
        "incident.publish",
        "incident",
        incident_id,
        incident_document(found),
        incident_document(after),
        at,
    )
    return True


async def _add_update(
    conn: AsyncConnection,
    incident_id: uuid.UUID,
    status: IncidentState,
    body: str,
    author: str,
    at: datetime,
) -> None:
    await conn.execute(
        t.incident_updates.insert().values(
            id=new_id(),
            incident_id=incident_id,
            status=status.value,
            body=body,
            author=author[:200],
            created_at=at,
        )
    )
