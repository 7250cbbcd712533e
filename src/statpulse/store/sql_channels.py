"""Notification channels of an organisation, with their secret config fields sealed at rest.

The store does not know which fields of a kind are secret: the caller (the channel's Notifier,
``secret_fields()``) names them. Each is sealed as its JSON text under the path
``channel/{id}/{field}``, so lists (a webhook's rotating secrets) seal like strings. Without
master keys (a store opened without a keyring) they are stored as given, as monitors' are.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from statpulse.model import new_id, utcnow
from statpulse.security.secrets import SecretError, is_sealed
from statpulse.store import schema as t
from statpulse.store.sql_keys import KeysMixin

_c = t.channels.c
SECRETS_KEY = "_sealed"  # names the sealed fields inside the stored config document


@dataclass(frozen=True, slots=True)
class Channel:
    id: uuid.UUID
    org_id: uuid.UUID
    kind: str
    name: str
    config: Mapping[str, Any]  # opened: secrets in plaintext; redact before showing
    secret_fields: tuple[str, ...]
    events: tuple[str, ...]  # empty: every event
    enabled: bool
    last_error: str | None
    last_error_at: datetime | None
    created_at: datetime

    def wants(self, event: str) -> bool:
        return self.enabled and (not self.events or event in self.events)


class ChannelsMixin(KeysMixin):
    async def create_channel(
        self,
        org_id: uuid.UUID,
        kind: str,
        name: str,
        config: Mapping[str, Any],
        secret_fields: Sequence[str],
        events: Sequence[str] = (),
    ) -> Channel:
        channel_id, now = new_id(), utcnow()
        sealed = await self._seal_config(org_id, channel_id, config, secret_fields)
        values = {
            "id": channel_id,
            "org_id": org_id,
            "kind": kind,
            "name": name,
            "config": sealed,
            "events": list(events),
            "enabled": True,
            "created_at": now,
            "updated_at": now,
        }
        async with self._engine.begin() as conn:
            await conn.execute(t.channels.insert().values(**values))
        found = await self.get_channel(org_id, channel_id)
        assert found is not None
        return found

    async def get_channel(self, org_id: uuid.UUID | None, channel_id: uuid.UUID) -> Channel | None:
        """The channel with its secrets opened; ``org_id`` None: any organisation's (the
        dispatcher's view). Raises SecretError naming the field when a value cannot be opened."""
        query = sa.select(t.channels).where(_c.id == channel_id)
        if org_id is not None:
            query = query.where(_c.org_id == org_id)
        row = await self._first(query)
        return await self._channel(row) if row is not None else None

    async def list_channels(self, org_id: uuid.UUID) -> list[Channel]:
        rows = await self._all(
            sa.select(t.channels).where(_c.org_id == org_id).order_by(_c.created_at, _c.id)
        )
        return [await self._channel(r) for r in rows]

    async def delete_channel(self, org_id: uuid.UUID, channel_id: uuid.UUID) -> bool:
        async with self._engine.begin() as conn:
            gone = await conn.execute(
                t.channels.delete().where(_c.org_id == org_id, _c.id == channel_id)
            )
        return bool(gone.rowcount)

    async def set_channel_enabled(
        self, org_id: uuid.UUID, channel_id: uuid.UUID, enabled: bool
    ) -> bool:
        async with self._engine.begin() as conn:
            done = await conn.execute(
                t.channels.update()
                .where(_c.org_id == org_id, _c.id == channel_id)
                .values(enabled=enabled, updated_at=utcnow())
            )
        return bool(done.rowcount)

    async def channel_failed(
        self, channel_id: uuid.UUID, error: str, at: datetime, *, disable: bool
    ) -> None:
        """Record the last delivery error (shown to the owner); a permanent one disables it."""
        values: dict[str, Any] = {"last_error": error[:2000], "last_error_at": at}
        if disable:
            values["enabled"] = False
        async with self._engine.begin() as conn:
            await conn.execute(t.channels.update().where(_c.id == channel_id).values(**values))

    async def _seal_config(
        self,
        org_id: uuid.UUID,
        channel_id: uuid.UUID,
        config: Mapping[str, Any],
        secret_fields: Sequence[str],
    ) -> dict[str, Any]:
        doc = dict(config)
        present = [f for f in secret_fields if doc.get(f) is not None]
        box = self.secrets
        if box is not None:
            for field in present:
                doc[field] = await box.seal(
                    org_id, _path(channel_id, field), json.dumps(doc[field])
                )
        doc[SECRETS_KEY] = present
        return doc

    async def _channel(self, row: sa.Row[Any]) -> Channel:
        doc = dict(row.config)
        fields = tuple(doc.pop(SECRETS_KEY, ()))
        for field in fields:
            value = doc.get(field)
            if isinstance(value, str) and is_sealed(value):
                if self.secrets is None:
                    raise SecretError(
                        "sealed, but the store was opened without master keys",
                        path=_path(row.id, field),
                    )
                doc[field] = json.loads(
                    await self.secrets.open(row.org_id, _path(row.id, field), value)
                )
        return Channel(
            id=row.id,
            org_id=row.org_id,
            kind=row.kind,
            name=row.name,
            config=doc,
            secret_fields=fields,
            events=tuple(row.events),
            enabled=row.enabled,
            last_error=row.last_error,
            last_error_at=row.last_error_at,
            created_at=row.created_at,
        )


def _path(channel_id: uuid.UUID, field: str) -> str:
    return f"channel/{channel_id}/{field}"
