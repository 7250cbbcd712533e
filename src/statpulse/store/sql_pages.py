"""Status pages and components."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from statpulse.model import Component, Monitor, StatusPage, new_id, utcnow
from statpulse.store import schema as t
from statpulse.store.contract import Conflict
from statpulse.store.sql_base import SqlBase
from statpulse.store.sql_monitors import monitor_from_row


def _page(row: sa.Row[Any]) -> StatusPage:
    return StatusPage(
        id=row.id,
        org_id=row.org_id,
        slug=row.slug,
        title=row.title,
        description=row.description,
        created_at=row.created_at,
    )


def _component(row: sa.Row[Any]) -> Component:
    return Component(
        id=row.id,
        org_id=row.org_id,
        name=row.name,
        description=row.description,
        monitor_id=row.monitor_id,
        created_at=row.created_at,
    )


class PagesMixin(SqlBase):
    async def create_page(
        self, org_id: uuid.UUID, slug: str, title: str, description: str
    ) -> StatusPage:
        page = StatusPage(
            id=new_id(),
            org_id=org_id,
            slug=slug,
            title=title,
            description=description,
            created_at=utcnow(),
        )
        try:
            async with self._engine.begin() as conn:
                await conn.execute(
                    t.status_pages.insert().values(
                        id=page.id,
                        org_id=org_id,
                        slug=slug,
                        title=title,
                        description=description,
                        created_at=page.created_at,
                    )
                )
        except sa.exc.IntegrityError as exc:
            raise Conflict("slug", f"status page {slug!r} already exists") from exc
        return page

    async def get_page(self, slug: str) -> StatusPage | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(sa.select(t.status_pages).where(t.status_pages.c.slug == slug))
            ).first()
        return _page(row) if row else None

    async def list_pages(self, org_id: uuid.UUID) -> list[StatusPage]:
        query = (
            sa.select(t.status_pages)
            .where(t.status_pages.c.org_id == org_id)
            .order_by(t.status_pages.c.created_at, t.status_pages.c.id)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [_page(r) for r in rows]

    async def create_component(
        self,
        org_id: uuid.UUID,
        name: str,
        description: str,
        monitor_id: uuid.UUID | None,
        page_ids: Sequence[uuid.UUID],
    ) -> Component:
        component = Component(
            id=new_id(),
            org_id=org_id,
            name=name,
            description=description,
            monitor_id=monitor_id,
            created_at=utcnow(),
        )
        pc = t.page_components
        async with self._engine.begin() as conn:
            await conn.execute(
                t.components.insert().values(
                    id=component.id,
                    org_id=org_id,
                    name=name,
                    description=description,
                    monitor_id=monitor_id,
                    created_at=component.created_at,
                )
            )
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
        query = (
            sa.select(t.components)
            .where(t.components.c.org_id == org_id)
            .order_by(t.components.c.created_at, t.components.c.id)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [_component(r) for r in rows]

    async def page_components(self, page_id: uuid.UUID) -> list[tuple[Component, Monitor | None]]:
        c, pc = t.components, t.page_components
        query = (
            sa.select(c)
            .join(pc, pc.c.component_id == c.c.id)
            .where(pc.c.page_id == page_id)
            .order_by(pc.c.position)
        )
        async with self._engine.connect() as conn:
            components = [_component(r) for r in (await conn.execute(query)).all()]
            monitor_ids = [x.monitor_id for x in components if x.monitor_id is not None]
            monitors: dict[uuid.UUID, Monitor] = {}
            if monitor_ids:
                query = sa.select(t.monitors).where(t.monitors.c.id.in_(monitor_ids))
                for row in (await conn.execute(query)).all():
                    monitors[row.id] = monitor_from_row(row)
        return [(x, monitors.get(x.monitor_id) if x.monitor_id else None) for x in components]
