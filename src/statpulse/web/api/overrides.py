"""Manual component overrides: an admin sets a component degraded, partial outage, major
outage or maintenance by hand (``engine.alerting.Override``), until cleared.

- ``GET /api/v1/overrides``: the organisation's overrides (any key).
- ``PUT /api/v1/components/{id}/override`` ``{"status", "reason"}``: set or replace.
- ``DELETE /api/v1/components/{id}/override``: clear (204; 404 when there is none).

Writes need a write key and are audited (before/after); another organisation's component is
a 404.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from statpulse.engine.incidents import Override
from statpulse.model import utcnow
from statpulse.store.sql_maintenance import ComponentOverride
from statpulse.web.api.incidents import ERRORS
from statpulse.web.deps import ReadKey, ServicesDep, WriteKey, actor
from statpulse.web.errors import not_found

router = APIRouter(prefix="/api/v1", tags=["overrides"], responses=ERRORS)


class OverrideIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Override
    reason: str = Field(default="", max_length=2000)


class OverrideOut(BaseModel):
    component_id: uuid.UUID
    status: Override
    reason: str
    set_by: str
    set_at: datetime

    @classmethod
    def of(cls, o: ComponentOverride) -> OverrideOut:
        return cls(
            component_id=o.component_id,
            status=o.status,
            reason=o.reason,
            set_by=o.set_by,
            set_at=o.set_at,
        )


class OverrideList(BaseModel):
    data: list[OverrideOut]


@router.get("/overrides", response_model=OverrideList)
async def list_overrides(key: ReadKey, svc: ServicesDep) -> OverrideList:
    return OverrideList(
        data=[OverrideOut.of(o) for o in await svc.store.list_overrides(key.org_id)]
    )


@router.put("/components/{component_id}/override", response_model=OverrideOut)
async def set_override(
    component_id: uuid.UUID, body: OverrideIn, key: WriteKey, svc: ServicesDep
) -> OverrideOut:
    found = await svc.store.set_override(
        key.org_id, component_id, actor(key), body.status, body.reason, utcnow()
    )
    if found is None:
        raise not_found("component")
    return OverrideOut.of(found)


@router.delete("/components/{component_id}/override", status_code=204)
async def clear_override(component_id: uuid.UUID, key: WriteKey, svc: ServicesDep) -> Response:
    if not await svc.store.clear_override(key.org_id, component_id, actor(key), utcnow()):
        raise not_found("override")
    return Response(status_code=204)
