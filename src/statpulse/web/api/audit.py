"""``GET /api/v1/audit``: the organisation's audit log, newest first, paged by ``cursor``,
filtered by ``target_type`` and ``target_id``.

There are no admin roles on API keys (scopes are read and write), so "admin" means a write
key: a read-only key (e.g. one given to a dashboard) gets 403. Entries are the organisation's
only; ``actor`` is ``apikey:<prefix>`` for changes made through the API and ``system`` for the
engine's (drafts opened, auto-resolved, auto-published).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from statpulse.web.api.incidents import ERRORS, decode_cursor, encode_cursor
from statpulse.web.deps import ServicesDep, WriteKey

router = APIRouter(prefix="/api/v1", tags=["audit"], responses=ERRORS)


class AuditEntryOut(BaseModel):
    id: uuid.UUID
    actor: str
    action: str = Field(description="e.g. incident.update, maintenance.create, override.set")
    target_type: str
    target_id: uuid.UUID | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    at: datetime


class AuditList(BaseModel):
    data: list[AuditEntryOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page.")


@router.get("/audit", response_model=AuditList)
async def audit_log(
    key: WriteKey,
    svc: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    target_type: Annotated[str | None, Query(max_length=64)] = None,
    target_id: uuid.UUID | None = None,
) -> AuditList:
    found = await svc.store.audit_log(
        key.org_id, limit, decode_cursor(cursor), target_type, target_id
    )
    last = found[-1] if len(found) == limit else None
    return AuditList(
        data=[
            AuditEntryOut(
                id=e.id,
                actor=e.actor,
                action=e.action,
                target_type=e.target_type,
                target_id=e.target_id,
                before=e.before,
                after=e.after,
                at=e.at,
            )
            for e in found
        ],
        next_cursor=encode_cursor(last.at, last.id) if last else None,
    )
