"""``GET /api/v1/monitors/{id}/results``: the latest check results, with what each failing
condition compared (``[STATUS] (500) == 200``), phase timings and error classes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from statpulse.model import CheckResult
from statpulse.web.deps import ReadKey, ServicesDep
from statpulse.web.errors import not_found

router = APIRouter(prefix="/api/v1/monitors", tags=["monitors"])


class ConditionOut(BaseModel):
    condition: str
    success: bool
    description: str = Field(description="What was compared, e.g. `[STATUS] (500) == 200`.")


class PhasesOut(BaseModel):
    dns_ms: float | None
    connect_ms: float | None
    tls_ms: float | None
    first_byte_ms: float | None


class ResultOut(BaseModel):
    id: uuid.UUID
    region: str
    scheduled_at: datetime
    started_at: datetime
    latency_ms: float | None
    ok: bool
    degraded: bool
    status_code: int | None
    phases: PhasesOut
    error_class: str | None
    error_message: str | None
    attempts: int
    conditions: list[ConditionOut] = Field(
        description="Every condition of a failed or degraded check; empty when all held."
    )

    @classmethod
    def of(cls, r: CheckResult) -> ResultOut:
        p = r.phases
        return cls(
            id=r.id,
            region=r.region,
            scheduled_at=r.scheduled_at,
            started_at=r.started_at,
            latency_ms=r.latency_ms,
            ok=r.ok,
            degraded=r.degraded,
            status_code=r.status_code,
            phases=PhasesOut(
                dns_ms=p.dns_ms,
                connect_ms=p.connect_ms,
                tls_ms=p.tls_ms,
                first_byte_ms=p.first_byte_ms,
            ),
            error_class=r.error_class.value if r.error_class else None,
            error_message=r.error_message,
            attempts=r.attempts,
            conditions=[
                ConditionOut(condition=c.condition, success=c.success, description=c.description)
                for c in r.conditions
            ],
        )


class ResultList(BaseModel):
    data: list[ResultOut]


@router.get("/{monitor_id}/results", response_model=ResultList)
async def list_results(
    monitor_id: uuid.UUID,
    key: ReadKey,
    svc: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> ResultList:
    """The newest results first."""
    if await svc.store.get_monitor(key.org_id, monitor_id) is None:
        raise not_found("monitor")
    results = await svc.store.recent_results(monitor_id, limit)
    return ResultList(data=[ResultOut.of(r) for r in results])
