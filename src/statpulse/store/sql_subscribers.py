"""Subscribers of status pages: visitors told about incidents and maintenance.

Each subscriber delivers through a hidden channel of its own (``channels`` row named
``subscriber:<id>``, listening only to ``SUBSCRIBER_EVENT``), so its secrets (a webhook's signing
secret, a Slack URL, the operator's SMTP password) are sealed like any channel's, and the outbox
and the dispatcher deliver subscriber messages on their one path. Deleting the channel deletes
the subscriber and its queued rows (``ON DELETE CASCADE``), which is how unsubscribing works.
Operator alerts never reach these channels: ``enqueue`` only queues an event a channel with an
events filter lists, and no operator event is ``SUBSCRIBER_EVENT``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from statpulse.model import utcnow
from statpulse.store import schema as t
from statpulse.store.sql_channels import ChannelsMixin

_s = t.subscribers.c
_c = t.subscriber_codes.c
SUBSCRIBER_EVENT = "subscriber.notice"


@dataclass(frozen=True, slots=True)
class Subscriber:
    id: uuid.UUID
    org_id: uuid.UUID
    page_id: uuid.UUID
    channel_id: uuid.UUID
    kind: str  # email | webhook | slack | sms
    address: str  # shown to the page's owner: an e-mail address, a phone number, an origin
    components: tuple[uuid.UUID, ...]  # empty: every component of the page
    nonce: str
    page_url: str
    unsubscribe_url: str
    confirmed_at: datetime | None
    created_at: datetime


class SubscribersMixin(ChannelsMixin):
    async def create_subscriber(
        self,
        subscriber: Subscriber,
        channel_kind: str,
        config: Mapping[str, Any],
        secret_fields: Sequence[str],
    ) -> Subscriber:
        """Stores ``subscriber`` (its ``channel_id`` is ignored) with a new hidden channel of
        ``channel_kind`` holding ``config``; returns it with the channel's id."""
        channel = await self.create_channel(
            subscriber.org_id,
            channel_kind,
            f"subscriber:{subscriber.id}",
            config,
            secret_fields,
            events=[SUBSCRIBER_EVENT],
        )
        values = {
            "id": subscriber.id,
            "org_id": subscriber.org_id,
            "page_id": subscriber.page_id,
            "channel_id": channel.id,
            "kind": subscriber.kind,
            "address": subscriber.address[:320],
            "components": [str(c) for c in subscriber.components],
            "nonce": subscriber.nonce,
            "page_url": subscriber.page_url,
            "unsubscribe_url": subscriber.unsubscribe_url,
            "confirmed_at": subscriber.confirmed_at,
            "created_at": subscriber.created_at or utcnow(),
        }
        try:
            async with self._engine.begin() as conn:
                await conn.execute(t.subscribers.insert().values(**values))
        except BaseException:
            await self.delete_channel(subscriber.org_id, channel.id)
            raise
        found = await self.get_subscriber(subscriber.id)
        assert found is not None
        return found

    async def get_subscriber(self, subscriber_id: uuid.UUID) -> Subscriber | None:
        """Any organisation's (the public confirm and unsubscribe links carry only the id)."""
        row = await self._first(sa.select(t.subscribers).where(_s.id == subscriber_id))
        return _subscriber(row) if row is not None else None

    async def find_subscriber(
        self, page_id: uuid.UUID, kind: str, address: str
    ) -> Subscriber | None:
        row = await self._first(
            sa.select(t.subscribers)
            .where(_s.page_id == page_id, _s.kind == kind, _s.address == address)
            .order_by(_s.created_at)
            .limit(1)
        )
        return _subscriber(row) if row is not None else None

    async def list_subscribers(
        self, org_id: uuid.UUID, page_id: uuid.UUID | None = None, *, confirmed: bool = False
    ) -> list[Subscriber]:
        """The organisation's subscribers (of one page), oldest first; only the confirmed ones
        with ``confirmed``."""
        query = sa.select(t.subscribers).where(_s.org_id == org_id)
        if page_id is not None:
            query = query.where(_s.page_id == page_id)
        if confirmed:
            query = query.where(_s.confirmed_at.is_not(None))
        rows = await self._all(query.order_by(_s.created_at, _s.id))
        return [_subscriber(r) for r in rows]

    async def confirm_subscriber(self, subscriber_id: uuid.UUID, at: datetime) -> bool:
        """Sets confirmed_at (kept when already set); False when there is no such subscriber."""
        async with self._engine.begin() as conn:
            done = await conn.execute(
                t.subscribers.update()
                .where(_s.id == subscriber_id)
                .values(confirmed_at=sa.func.coalesce(_s.confirmed_at, at))
            )
        return bool(done.rowcount)

    async def delete_subscriber(self, org_id: uuid.UUID | None, subscriber_id: uuid.UUID) -> bool:
        """Removes the subscriber, its hidden channel and its queued messages; ``org_id`` None:
        any organisation's (an unsubscribe link)."""
        query = sa.select(_s.org_id, _s.channel_id).where(_s.id == subscriber_id)
        if org_id is not None:
            query = query.where(_s.org_id == org_id)
        row = await self._first(query)
        if row is None:
            return False
        return await self.delete_channel(row.org_id, row.channel_id)

    # The confirmation code of an SMS subscriber (web/public/subscribe_sms.py).

    async def set_subscriber_code(
        self, subscriber_id: uuid.UUID, code_hash: str, expires_at: datetime
    ) -> None:
        """Replaces the subscriber's pending code (attempts start again at 0)."""
        async with self._engine.begin() as conn:
            await conn.execute(t.subscriber_codes.delete().where(_c.subscriber_id == subscriber_id))
            await conn.execute(
                t.subscriber_codes.insert().values(
                    subscriber_id=subscriber_id,
                    code_hash=code_hash,
                    expires_at=expires_at,
                    attempts=0,
                    created_at=utcnow(),
                )
            )

    async def spend_subscriber_code(
        self, subscriber_id: uuid.UUID, max_attempts: int
    ) -> tuple[str, datetime] | None:
        """Counts one attempt at the pending code and returns its hash and expiry; None when
        there is none or ``max_attempts`` were made (the count is raised atomically first, so
        concurrent tries cannot compare more than ``max_attempts`` times)."""
        async with self._engine.begin() as conn:
            done = await conn.execute(
                t.subscriber_codes.update()
                .where(_c.subscriber_id == subscriber_id, _c.attempts < max_attempts)
                .values(attempts=_c.attempts + 1)
            )
            if not done.rowcount:
                return None
            row = (
                await conn.execute(
                    sa.select(_c.code_hash, _c.expires_at).where(_c.subscriber_id == subscriber_id)
                )
            ).first()
        return (row.code_hash, row.expires_at) if row is not None else None

    async def clear_subscriber_code(self, subscriber_id: uuid.UUID) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(t.subscriber_codes.delete().where(_c.subscriber_id == subscriber_id))


def _subscriber(row: sa.Row[Any]) -> Subscriber:
    return Subscriber(
        id=row.id,
        org_id=row.org_id,
        page_id=row.page_id,
        channel_id=row.channel_id,
        kind=row.kind,
        address=row.address,
        components=tuple(uuid.UUID(c) for c in row.components),
        nonce=row.nonce,
        page_url=row.page_url,
        unsubscribe_url=row.unsubscribe_url,
        confirmed_at=row.confirmed_at,
        created_at=row.created_at,
    )
