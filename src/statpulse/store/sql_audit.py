"""The audit log: rows written inside the transaction of the change they describe, and the
paged read of the log for admins.

``insert_audit`` takes the caller's connection, so a change and its audit row commit (or roll
back) together. ``before`` / ``after`` are JSON documents of the target (None on create /
delete); ``json_document`` makes them JSON-safe.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from statpulse.model import new_id
from statpulse.store import schema as t
from statpulse.store.sql_base import SqlBase

SYSTEM_ACTOR = "system"
"""The actor of changes the engine makes (drafts opened, resolved, auto-published)."""

_a = t.audit_log.c


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: uuid.UUID
    actor: str
    action: str
    target_type: str
    target_id: uuid.UUID | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    at: datetime


def json_document(value: Any) -> Any:
    """``value`` with datetimes as ISO 8601, UUIDs as strings, enums as their values and
    tuples as lists, recursively."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): json_document(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_document(v) for v in value]
    return value


async def insert_audit(
    conn: AsyncConnection,
    org_id: uuid.UUID,
    actor: str,
    action: str,
    target_type: str,
    target_id: uuid.UUID | None,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    at: datetime,
) -> None:
    await conn.execute(
        t.audit_log.insert().values(
            id=new_id(),
            org_id=org_id,
            actor=actor,
            action=action,
            target_type=target_type,
            target_id=target_id,
            before=json_document(before) if before is not None else None,
            after=json_document(after) if after is not None else None,
            at=at,
        )
    )


class AuditMixin(SqlBase):
    async def audit_log(
        self,
        org_id: uuid.UUID,
        limit: int,
        before: tuple[datetime, uuid.UUID] | None = None,
        target_type: str | None = None,
        target_id: uuid.UUID | None = None,
    ) -> list[AuditEntry]:
        query = sa.select(t.audit_log).where(_a.org_id == org_id)
        if before is not None:
            at, entry_id = before
            query = query.where(sa.or_(_a.at < at, sa.and_(_a.at == at, _a.id < entry_id)))
        if target_type is not None:
            query = query.where(_a.target_type == target_type)
        if target_id is not None:
            query = query.where(_a.target_id == target_id)
        query = query.order_by(_a.at.desc(), _a.id.desc()).limit(limit)
        return [
            AuditEntry(
                id=row.id,
                actor=row.actor,
                action=row.action,
                target_type=row.target_type,
                target_id=row.target_id,
                before=row.before,
                after=row.after,
                at=row.at,
            )
            for row in await self._all(query)
        ]
