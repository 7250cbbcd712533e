"""Access rules of private status pages, and their one-time e-mail sign-in links.

A page with no ``page_access`` row, or with every rule empty, is public. ``session_version``
starts at 1 and grows by one on every write that changes a rule (a new password hash always
differs: argon2 salts), so cookies and links signed with an older version stop working.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from statpulse.model import new_id, utcnow
from statpulse.store import schema as t
from statpulse.store.sql_base import SqlBase

_a = t.page_access.c
_l = t.page_access_links.c


@dataclass(frozen=True, slots=True)
class PageAccess:
    page_id: uuid.UUID
    password_hash: str | None  # argon2id; None: no password sign-in
    email_domains: tuple[str, ...]  # lower-case; e-mail sign-in for addresses at these
    ip_allowlist: tuple[str, ...]  # normalised CIDRs whose clients need no sign-in
    session_version: int
    updated_at: datetime

    @property
    def private(self) -> bool:
        """Whether any rule is set (else the page is public)."""
        return bool(self.password_hash or self.email_domains or self.ip_allowlist)


def _access(row: sa.Row[Any]) -> PageAccess:
    return PageAccess(
        page_id=row.page_id,
        password_hash=row.password_hash,
        email_domains=tuple(row.email_domains),
        ip_allowlist=tuple(row.ip_allowlist),
        session_version=row.session_version,
        updated_at=row.updated_at,
    )


class AccessMixin(SqlBase):
    async def get_page_access(self, page_id: uuid.UUID) -> PageAccess | None:
        row = await self._first(sa.select(t.page_access).where(_a.page_id == page_id))
        return _access(row) if row else None

    async def page_access_by_slug(self, slug: str) -> PageAccess | None:
        p = t.status_pages.c
        query = (
            sa.select(t.page_access)
            .select_from(t.page_access.join(t.status_pages, p.id == _a.page_id))
            .where(p.slug == slug)
        )
        row = await self._first(query)
        return _access(row) if row else None

    async def set_page_access(
        self,
        page_id: uuid.UUID,
        *,
        password_hash: str | None,
        email_domains: Sequence[str],
        ip_allowlist: Sequence[str],
    ) -> PageAccess:
        """Stores the rules; bumps ``session_version`` when they differ from the stored ones
        (an identical write changes nothing and signs nobody out)."""
        values = {
            "password_hash": password_hash,
            "email_domains": list(email_domains),
            "ip_allowlist": list(ip_allowlist),
        }
        for attempt in range(2):
            try:
                async with self._engine.begin() as conn:
                    query = sa.select(t.page_access).where(_a.page_id == page_id)
                    row = (await conn.execute(query.with_for_update())).first()
                    if row is None:
                        await conn.execute(
                            t.page_access.insert().values(
                                page_id=page_id, session_version=1, updated_at=utcnow(), **values
                            )
                        )
                    elif any(getattr(row, k) != v for k, v in values.items()):
                        await conn.execute(
                            t.page_access.update()
                            .where(_a.page_id == page_id)
                            .values(
                                session_version=_a.session_version + 1,
                                updated_at=utcnow(),
                                **values,
                            )
                        )
                break
            except sa.exc.IntegrityError:
                if attempt:  # the page is gone (a concurrent first insert is retried once)
                    raise
        found = await self.get_page_access(page_id)
        assert found is not None
        return found

    async def create_access_link(self, page_id: uuid.UUID, expires_at: datetime) -> uuid.UUID:
        """A new unused sign-in link of the page (links expired by now are deleted)."""
        link_id = new_id()
        async with self._engine.begin() as conn:
            await conn.execute(t.page_access_links.delete().where(_l.expires_at < utcnow()))
            await conn.execute(
                t.page_access_links.insert().values(
                    id=link_id, page_id=page_id, expires_at=expires_at, used_at=None
                )
            )
        return link_id

    async def use_access_link(self, link_id: uuid.UUID, page_id: uuid.UUID, now: datetime) -> bool:
        """Spends the link: True once, for an unused, unexpired link of the page; then False."""
        async with self._engine.begin() as conn:
            result = await conn.execute(
                t.page_access_links.update()
                .where(
                    _l.id == link_id,
                    _l.page_id == page_id,
                    _l.used_at.is_(None),
                    _l.expires_at > now,
                )
                .values(used_at=now)
            )
        return result.rowcount == 1
