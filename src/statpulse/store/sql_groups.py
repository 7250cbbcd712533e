"""Component groups of status pages (``component_groups``, ``component_group_members``).

A group is a named, ordered set of the page's components; a component is in at most one group
of a page. Which component ids may join is checked by the caller (the API checks they are on
the page); the foreign key to ``page_components`` refuses any other.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from statpulse.model import utcnow
from statpulse.store import schema as t
from statpulse.store.sql_base import SqlBase


@dataclass(frozen=True, slots=True)
class ComponentGroup:
    id: uuid.UUID
    org_id: uuid.UUID
    page_id: uuid.UUID
    name: str
    position: int
    created_at: datetime
    components: tuple[uuid.UUID, ...]
    """Member component ids in the page's component order."""


_g = t.component_groups.c
_gm = t.component_group_members.c


class GroupsMixin(SqlBase):
    async def create_group(
        self,
        org_id: uuid.UUID,
        page_id: uuid.UUID,
        name: str,
        component_ids: Sequence[uuid.UUID],
    ) -> ComponentGroup:
        """A new group last on the page; members of another group of the page move to it."""
        group_id = uuid.uuid4()
        now = utcnow()
        members = list(dict.fromkeys(component_ids))
        async with self._engine.begin() as conn:
            last = (
                await conn.execute(
                    sa.select(sa.func.coalesce(sa.func.max(_g.position), -1)).where(
                        _g.page_id == page_id
                    )
                )
            ).scalar_one()
            await conn.execute(
                t.component_groups.insert().values(
                    id=group_id,
                    org_id=org_id,
                    page_id=page_id,
                    name=name,
                    position=last + 1,
                    created_at=now,
                )
            )
            if members:
                await conn.execute(
                    t.component_group_members.delete().where(
                        _gm.page_id == page_id, _gm.component_id.in_(members)
                    )
                )
                await conn.execute(
                    t.component_group_members.insert(),
                    [
                        {"page_id": page_id, "component_id": c, "group_id": group_id}
                        for c in members
                    ],
                )
        found = [g for g in await self.list_groups(page_id) if g.id == group_id]
        return found[0]

    async def list_groups(self, page_id: uuid.UUID) -> list[ComponentGroup]:
        """The page's groups by position, each with its members in component order."""
        pc = t.page_components.c
        groups = await self._all(
            sa.select(t.component_groups).where(_g.page_id == page_id).order_by(_g.position, _g.id)
        )
        rows = await self._all(
            sa.select(_gm.group_id, _gm.component_id)
            .join(
                t.page_components,
                sa.and_(pc.page_id == _gm.page_id, pc.component_id == _gm.component_id),
            )
            .where(_gm.page_id == page_id)
            .order_by(pc.position)
        )
        members: dict[uuid.UUID, list[uuid.UUID]] = {}
        for row in rows:
            members.setdefault(row.group_id, []).append(row.component_id)
        return [
            ComponentGroup(
                id=g.id,
                org_id=g.org_id,
                page_id=g.page_id,
                name=g.name,
                position=g.position,
                created_at=g.created_at,
                components=tuple(members.get(g.id, ())),
            )
            for g in groups
        ]

    async def delete_group(
        self, org_id: uuid.UUID, page_id: uuid.UUID, group_id: uuid.UUID
    ) -> bool:
        """Deletes the group (its members become ungrouped); False when the page has none
        with that id."""
        async with self._engine.begin() as conn:
            await conn.execute(t.component_group_members.delete().where(_gm.group_id == group_id))
            result = await conn.execute(
                t.component_groups.delete().where(
                    _g.id == group_id, _g.org_id == org_id, _g.page_id == page_id
                )
            )
        return bool(result.rowcount)
