"""Custom domains of status pages."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime

import sqlalchemy as sa

from statpulse.custom_domains import CustomDomain
from statpulse.model import new_id, utcnow
from statpulse.store import schema as t
from statpulse.store.contract import Conflict
from statpulse.store.sql_base import SqlBase, from_row


class DomainsMixin(SqlBase):
    async def create_domain(
        self, org_id: uuid.UUID, page_id: uuid.UUID, hostname: str, token: str
    ) -> CustomDomain:
        domain = CustomDomain(new_id(), org_id, page_id, hostname, token, None, utcnow())
        try:
            async with self._engine.begin() as conn:
                await conn.execute(t.custom_domains.insert().values(**dataclasses.asdict(domain)))
        except sa.exc.IntegrityError as exc:
            raise Conflict("hostname", f"{hostname!r} is already in use") from exc
        return domain

    async def list_domains(self, org_id: uuid.UUID, page_id: uuid.UUID) -> list[CustomDomain]:
        d = t.custom_domains.c
        rows = await self._all(
            sa.select(t.custom_domains)
            .where(d.org_id == org_id, d.page_id == page_id)
            .order_by(d.created_at, d.id)
        )
        return [from_row(CustomDomain, r) for r in rows]

    async def get_domain(self, org_id: uuid.UUID, domain_id: uuid.UUID) -> CustomDomain | None:
        d = t.custom_domains.c
        row = await self._first(
            sa.select(t.custom_domains).where(d.org_id == org_id, d.id == domain_id)
        )
        return from_row(CustomDomain, row) if row else None

    async def delete_domain(self, org_id: uuid.UUID, domain_id: uuid.UUID) -> bool:
        d = t.custom_domains.c
        async with self._engine.begin() as conn:
            result = await conn.execute(
                t.custom_domains.delete().where(d.org_id == org_id, d.id == domain_id)
            )
        return result.rowcount > 0

    async def mark_domain_verified(
        self, org_id: uuid.UUID, domain_id: uuid.UUID, at: datetime
    ) -> CustomDomain | None:
        d = t.custom_domains.c
        async with self._engine.begin() as conn:
            await conn.execute(
                t.custom_domains.update()
                .where(d.org_id == org_id, d.id == domain_id, d.verified_at.is_(None))
                .values(verified_at=at)
            )
        return await self.get_domain(org_id, domain_id)

    async def verified_domain_slug(self, hostname: str) -> str | None:
        d, p = t.custom_domains.c, t.status_pages.c
        query = (
            sa.select(p.slug)
            .select_from(t.custom_domains.join(t.status_pages, p.id == d.page_id))
            .where(d.hostname == hostname, d.verified_at.is_not(None))
        )
        row = await self._first(query)
        return str(row.slug) if row else None

    async def domain_token(self, hostname: str) -> str | None:
        d = t.custom_domains.c
        row = await self._first(
            sa.select(d.token).where(d.hostname == hostname, d.verified_at.is_(None))
        )
        return str(row.token) if row else None
