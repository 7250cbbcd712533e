"""Service level objectives (rows of ``slos``); scoped to an organisation like every read."""

from __future__ import annotations

import dataclasses
import uuid

import sqlalchemy as sa

from statpulse.model import Slo
from statpulse.store import schema as t
from statpulse.store.sql_base import SqlBase, from_row


class SlosMixin(SqlBase):
    async def create_slo(self, slo: Slo) -> Slo:
        async with self._engine.begin() as conn:
            await conn.execute(t.slos.insert().values(**dataclasses.asdict(slo)))
        return slo

    async def get_slo(self, org_id: uuid.UUID, slo_id: uuid.UUID) -> Slo | None:
        s = t.slos.c
        row = await self._first(sa.select(t.slos).where(s.org_id == org_id, s.id == slo_id))
        return from_row(Slo, row) if row else None

    async def list_slos(self, org_id: uuid.UUID) -> list[Slo]:
        s = t.slos.c
        rows = await self._all(
            sa.select(t.slos).where(s.org_id == org_id).order_by(s.created_at, s.id)
        )
        return [from_row(Slo, r) for r in rows]

    async def delete_slo(self, org_id: uuid.UUID, slo_id: uuid.UUID) -> bool:
        s = t.slos.c
        async with self._engine.begin() as conn:
            result = await conn.execute(t.slos.delete().where(s.org_id == org_id, s.id == slo_id))
        return result.rowcount > 0
