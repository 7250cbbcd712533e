"""Status pages and components."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any, cast

import sqlalchemy as sa

from statpulse.model import Component, Monitor, StatusPage, new_id, utcnow
from statpulse.store import schema as t
from statpulse.store.contract import Conflict
from statpulse.store.sql_base import SqlBase, from_row
from statpulse.store.sql_monitors import monitor_from_row


class PagesMixin(SqlBase):
    async def create_page(
        self, org_id: uuid.UUID, slug: str, title: str, description: str
    ) -> StatusPage:
        page = StatusPage(new_id(), org_id, slug, title, description, utcnow())
        try:
            async with self._engine.begin() as conn:
                await conn.execute(t.status_pages.insert().values(**dataclasses.asdict(page)))
        except sa.exc.IntegrityError as exc:
            raise Conflict("slug", f"status page {slug!r} already exists") from exc
        return page

    async def get_page(self, slug: str) -> StatusPage | None:
        row = await self._first(sa.select(t.status_pages).where(t.status_pages.c.slug == slug))
        return from_row(StatusPage, row) if row else None

    async def list_pages(self, org_id: uuid.UUID) -> list[StatusPage]:
        p = t.status_pages.c
        rows = await self._all(
            sa.select(t.status_pages).where(p.org_id == org_id).order_by(p.created_at, p.id)
        )
        return [from_row(StatusPage, r) for r in rows]

    async def create_component(
        self,
        org_id: uuid.UUID,
        name: str,
        description: str,
        monitor_id: uuid.UUID | None,
        page_ids: Sequence[uuid.UUID],
    ) -> Component:
        component = Component(new_id(), org_id, name, description, monitor_id, utcnow())
        pc = t.page_components
        async with self._engine.begin() as conn:
            await conn.execute(t.components.insert().values(**dataclasses.asdict(component)))
            for page_id in page_ids:
                last = (
                    await conn.execute(
                        sa.select(sa.func.coalesce(sa.func.max(pc.c.position), -1)).where(
                            pc.c.page_id == page_id
                        )
                    )
                ).scalar_one()
                await conn.execute(
                    pc.insert().values(
                        page_id=page_id, component_id=component.id, position=last + 1
                    )
                )
        return component

    async def list_components(self, org_id: uuid.UUID) -> list[Component]:
        c = t.components.c
        rows = await self._all(
            sa.select(t.components).where(c.org_id == org_id).order_by(c.created_at, c.id)
        )
        return [from_row(Component, r) for r in rows]

    async def page_components(self, page_id: uuid.UUID) -> list[tuple[Component, Monitor | None]]:
        c, pc, m = t.components, t.page_components, t.monitors
        # One query (live pages read this on every change): each component with its monitor's
        # columns, prefixed "m_" (LEFT JOIN: a component may have no monitor).
        query = (
            sa.select(c, *(col.label(f"m_{col.name}") for col in m.columns))
            .select_from(
                c.join(pc, pc.c.component_id == c.c.id).outerjoin(m, m.c.id == c.c.monitor_id)
            )
            .where(pc.c.page_id == page_id)
            .order_by(pc.c.position)
        )
        out: list[tuple[Component, Monitor | None]] = []
        for row in await self._all(query):
            values = row._mapping
            monitor = None
            if values["m_id"] is not None:
                monitor_row = SimpleNamespace(**{x.name: values[f"m_{x.name}"] for x in m.columns})
                monitor = monitor_from_row(cast(Any, monitor_row))
            out.append((from_row(Component, row), monitor))
        return out
