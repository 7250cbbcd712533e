"""Organisations, API keys and the audit log."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from statpulse.model import ApiKey, Organization, Scope, new_id, utcnow
from statpulse.store import schema as t
from statpulse.store.contract import Conflict
from statpulse.store.sql_audit import insert_audit
from statpulse.store.sql_base import SqlBase, from_row


class AccountsMixin(SqlBase):
    async def create_org(self, slug: str, name: str) -> Organization:
        org = Organization(id=new_id(), slug=slug, name=name, created_at=utcnow())
        try:
            async with self._engine.begin() as conn:
                await conn.execute(t.organizations.insert().values(**dataclasses.asdict(org)))
        except sa.exc.IntegrityError as exc:
            raise Conflict("slug", f"organisation {slug!r} already exists") from exc
        return org

    async def get_org_by_slug(self, slug: str) -> Organization | None:
        query = sa.select(t.organizations).where(t.organizations.c.slug == slug)
        row = await self._first(query)
        return from_row(Organization, row) if row else None

    async def list_orgs(self) -> list[Organization]:
        o = t.organizations.c
        rows = await self._all(sa.select(t.organizations).order_by(o.created_at, o.id))
        return [from_row(Organization, r) for r in rows]

    async def create_api_key(
        self, org_id: uuid.UUID, name: str, scope: Scope, prefix: str, secret_hash: str
    ) -> ApiKey:
        key = ApiKey(
            id=new_id(), org_id=org_id, name=name, prefix=prefix, scope=scope, created_at=utcnow()
        )
        async with self._engine.begin() as conn:
            await conn.execute(
                t.api_keys.insert().values(**dataclasses.asdict(key), secret_hash=secret_hash)
            )
        return key

    async def find_api_key(self, prefix: str) -> tuple[ApiKey, str] | None:
        query = sa.select(t.api_keys).where(
            t.api_keys.c.prefix == prefix, t.api_keys.c.revoked_at.is_(None)
        )
        row = await self._first(query)
        return (from_row(ApiKey, row), row.secret_hash) if row else None

    async def audit(
        self,
        org_id: uuid.UUID,
        actor: str,
        action: str,
        target_type: str,
        target_id: uuid.UUID | None,
        before: Mapping[str, Any] | None,
        after: Mapping[str, Any] | None,
    ) -> None:
        async with self._engine.begin() as conn:
            await insert_audit(
                conn, org_id, actor, action, target_type, target_id, before, after, utcnow()
            )

    async def audit_entries(self, org_id: uuid.UUID, limit: int) -> list[dict[str, Any]]:
        query = (
            sa.select(t.audit_log)
            .where(t.audit_log.c.org_id == org_id)
            .order_by(t.audit_log.c.at.desc(), t.audit_log.c.id.desc())
            .limit(limit)
        )
        return [dict(row._mapping) for row in await self._all(query)]
