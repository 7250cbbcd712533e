"""How status pages look (``page_appearance``): one validated JSON document per page."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
import structlog

from statpulse.model import utcnow
from statpulse.store import schema as t
from statpulse.store.dialect import upsert
from statpulse.store.sql_base import SqlBase
from statpulse.web.public.appearance import (
    DEFAULT_APPEARANCE,
    AppearanceError,
    PageAppearance,
    from_document,
    to_document,
)

log = structlog.get_logger(__name__)


class AppearanceMixin(SqlBase):
    async def get_page_appearance(self, page_id: uuid.UUID) -> PageAppearance:
        """The page's appearance; the default look when none was set (or the page is gone).

        The stored document is validated again on the way out (the sanitisers may have grown
        stricter since it was written): one that no longer passes is logged and the default
        look is served rather than an error page."""
        a = t.page_appearance.c
        row = await self._first(sa.select(a.document).where(a.page_id == page_id))
        if row is None:
            return DEFAULT_APPEARANCE
        try:
            return from_document(row.document)
        except AppearanceError as exc:
            log.warning("stored appearance invalid", page_id=str(page_id), error=str(exc))
            return DEFAULT_APPEARANCE

    async def set_page_appearance(self, page_id: uuid.UUID, appearance: PageAppearance) -> None:
        """Replace the page's appearance (``appearance`` already validated)."""
        stmt = upsert(self._dialect, t.page_appearance, ["page_id"], ["document", "updated_at"])
        values = {"page_id": page_id, "document": to_document(appearance), "updated_at": utcnow()}
        async with self._engine.begin() as conn:
            await conn.execute(stmt.values(**values))
