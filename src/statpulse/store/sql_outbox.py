"""The delivery outbox: one row per message per channel, claimed atomically, retried, marked.

Enqueueing writes one ``pending`` row for every enabled channel of the organisation that wants
the event; ``(channel_id, group_key)`` is unique, so enqueueing the same state change twice
(two workers, a replay) is a no-op: one message per state change per channel.

A claim sets ``claimed_until`` (a lease) and counts the attempt in the same statement
(``UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING`` on PostgreSQL; SQLite
serialises writers), so two dispatchers never hold one row. A dispatcher killed after the
provider answered but before ``mark_sent`` leaves the lease to expire; the row is then claimed
again and re-sent with the same message id, which receivers use as the idempotency key.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from statpulse.model import new_id
from statpulse.store import schema as t
from statpulse.store.sql_base import SqlBase

_o = t.outbox.c
_c = t.channels.c


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: uuid.UUID
    org_id: uuid.UUID
    channel_id: uuid.UUID
    message: Mapping[str, Any]
    attempts: int  # including the one this claim starts


class OutboxMixin(SqlBase):
    async def enqueue(
        self,
        org_id: uuid.UUID,
        event: str,
        group_key: str,
        message: Mapping[str, Any],
        at: datetime,
        channel_ids: list[uuid.UUID] | None = None,
    ) -> int:
        """Queue ``message`` for the organisation's enabled channels that want ``event`` (or
        only ``channel_ids``); returns the rows added (0 when this group was queued before)."""
        query = sa.select(_c.id, _c.events).where(_c.org_id == org_id, _c.enabled.is_(True))
        if channel_ids is not None:
            query = query.where(_c.id.in_(channel_ids))
        rows = [
            {
                "id": new_id(),
                "org_id": org_id,
                "channel_id": ch.id,
                "group_key": group_key[:200],
                "message": dict(message),
                "state": "pending",
                "attempts": 0,
                "next_attempt_at": at,
                "created_at": at,
            }
            for ch in await self._all(query)
            if not ch.events or event in ch.events
        ]
        if not rows:
            return 0
        dialect = postgresql if self.dialect == "postgresql" else sqlite
        stmt = (
            dialect.insert(t.outbox)
            .on_conflict_do_nothing(index_elements=["channel_id", "group_key"])
            .returning(_o.id)
        )
        added = 0
        async with self._engine.begin() as conn:
            for row in rows:  # RETURNING with executemany is not portable: one by one
                added += len((await conn.execute(stmt, [row])).all())
        return added

    async def claim_outbox(self, now: datetime, lease: timedelta, limit: int) -> list[OutboxItem]:
        """Up to ``limit`` due rows, leased until ``now + lease``, oldest due first."""
        due = (
            sa.select(_o.id)
            .where(
                _o.state == "pending",
                _o.next_attempt_at <= now,
                sa.or_(_o.claimed_until.is_(None), _o.claimed_until < now),
            )
            .order_by(_o.next_attempt_at, _o.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        stmt = (
            t.outbox.update()
            .where(_o.id.in_(due))
            .values(claimed_until=now + lease, attempts=_o.attempts + 1)
            .returning(_o.id, _o.org_id, _o.channel_id, _o.message, _o.attempts)
        )
        async with self._engine.begin() as conn:
            rows = (await conn.execute(stmt)).all()
        items = [OutboxItem(r.id, r.org_id, r.channel_id, r.message, r.attempts) for r in rows]
        return sorted(items, key=lambda i: i.id)

    async def mark_sent(self, item_id: uuid.UUID, at: datetime) -> None:
        await self._set(item_id, state="sent", sent_at=at, claimed_until=None, last_error=None)

    async def mark_retry(self, item_id: uuid.UUID, next_at: datetime, error: str) -> None:
        await self._set(item_id, next_attempt_at=next_at, claimed_until=None, last_error=error)

    async def mark_dead(self, item_id: uuid.UUID, error: str) -> None:
        """Give up on this row (a permanent error, or too many attempts)."""
        await self._set(item_id, state="dead", claimed_until=None, last_error=error)

    async def outbox_rows(self, channel_id: uuid.UUID) -> list[dict[str, Any]]:
        """The channel's rows, oldest first (for the API and tests)."""
        rows = await self._all(
            sa.select(t.outbox).where(_o.channel_id == channel_id).order_by(_o.created_at, _o.id)
        )
        return [dict(r._mapping) for r in rows]

    async def _set(self, item_id: uuid.UUID, **values: Any) -> None:
        if "last_error" in values and values["last_error"] is not None:
            values["last_error"] = values["last_error"][:2000]
        async with self._engine.begin() as conn:
            await conn.execute(t.outbox.update().where(_o.id == item_id).values(**values))
