"""Status pages and components."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

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

    async def update_page(
        self, org_id: uuid.UUID, page_id: uuid.UUID, title: str, description: str
    ) -> StatusPage | None:
        p = t.status_pages.c
        async with self._engine.begin() as conn:
            row = (
                await conn.execute(
                    t.status_pages.update()
                    .where(p.org_id == org_id, p.id == page_id)
                    .values(title=title, description=description)
                    .returning(*t.status_pages.c)
                )
            ).first()
        return from_row(StatusPage, row) if row else None

    async def delete_page(self, org_id: uuid.UUID, page_id: uuid.UUID) -> bool:
        p = t.status_pages.c
        async with self._engine.begin() as conn:
            # The page's links, groups, domains, subscribers... go with it (ON DELETE CASCADE);
            # its components stay (they belong to the organisation).
            result = await conn.execute(
                t.status_pages.delete().where(p.org_id == org_id, p.id == page_id)
            )
        return bool(result.rowcount)

    async def create_component(
        self,
        org_id: uuid.UUID,
        name: str,
        description: str,
        monitor_id: uuid.UUID | None,
        page_ids: Sequence[uuid.UUID],
    ) -> Component:
        component = Component(new_id(), org_id, name, description, monitor_id, utcnow())
        async with self._engine.begin() as conn:
            await conn.execute(t.components.insert().values(**dataclasses.asdict(component)))
            for page_id in page_ids:
                await self._append(conn, page_id, component.id)
        return component

    @staticmethod
    async def _append(conn: AsyncConnection, page_id: uuid.UUID, component_id: uuid.UUID) -> None:
        """Link the component to the end of the page."""
        pc = t.page_components
        last = (
            await conn.execute(
                sa.select(sa.func.coalesce(sa.func.max(pc.c.position), -1)).where(
                    pc.c.page_id == page_id
                )
            )
        ).scalar_one()
        await conn.execute(
            pc.insert().values(page_id=page_id, component_id=component_id, position=last + 1)
        )

    async def get_component(self, org_id: uuid.UUID, component_id: uuid.UUID) -> Component | None:
        c = t.components.c
        row = await self._first(
            sa.select(t.components).where(c.org_id == org_id, c.id == component_id)
        )
        return from_row(Component, row) if row else None

    async def component_pages(self, component_id: uuid.UUID) -> list[StatusPage]:
        p, pc = t.status_pages, t.page_components
        rows = await self._all(
            sa.select(p)
            .select_from(p.join(pc, pc.c.page_id == p.c.id))
            .where(pc.c.component_id == component_id)
            .order_by(p.c.created_at, p.c.id)
        )
        return [from_row(StatusPage, r) for r in rows]

    async def update_component(
        self,
        org_id: uuid.UUID,
        component_id: uuid.UUID,
        name: str,
        description: str,
        monitor_id: uuid.UUID | None,
        page_ids: Sequence[uuid.UUID] | None,
    ) -> Component | None:
        c, pc = t.components, t.page_components
        async with self._engine.begin() as conn:
            row = (
                await conn.execute(
                    c.update()
                    .where(c.c.org_id == org_id, c.c.id == component_id)
                    .values(name=name, description=description, monitor_id=monitor_id)
                    .returning(*c.c)
                )
            ).first()
            if row is None:
                return None
            if page_ids is not None:
                wanted = list(dict.fromkeys(page_ids))
                linked = set(
                    (
                        await conn.execute(
                            sa.select(pc.c.page_id).where(pc.c.component_id == component_id)
                        )
                    ).scalars()
                )
                # Unlinking cascades to the component's group membership on that page.
                gone = linked.difference(wanted)
                if gone:
                    await conn.execute(
                        pc.delete().where(pc.c.component_id == component_id, pc.c.page_id.in_(gone))
                    )
                # A page it stays on keeps its position; a new one gets it at the end.
                for page_id in wanted:
                    if page_id not in linked:
                        await self._append(conn, page_id, component_id)
        return from_row(Component, row)

    async def delete_component(self, org_id: uuid.UUID, component_id: uuid.UUID) -> bool:
        c = t.components.c
        async with self._engine.begin() as conn:
            # Page links, overrides and SLOs go with it (ON DELETE CASCADE). Incidents,
            # maintenances and subscribers keep its id in their JSON lists; readers skip it.
            result = await conn.execute(
                t.components.delete().where(c.org_id == org_id, c.id == component_id)
            )
        return bool(result.rowcount)

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
