"""``/api/v1/slos``: service level objectives, their error budget and burn rates.

Definitions (SLI, budget, burn rate, status) are in ``engine/slo.py``. An SLO targets exactly one
of a monitor or a component of the caller's organisation; a component's SLO is measured by the
checks of the component's monitor.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from statpulse.model import ApiKey, Slo, SloKind, new_id, utcnow
from statpulse.reports.slo_status import SloStatus, slo_status
from statpulse.web.deps import ReadKey, ServicesDep, WriteKey, actor
from statpulse.web.errors import invalid, not_found
from statpulse.web.services import Services

router = APIRouter(prefix="/api/v1/slos", tags=["slos"])


class SloIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    kind: SloKind
    monitor_id: uuid.UUID | None = None
    component_id: uuid.UUID | None = None
    target_pct: float | None = Field(
        default=None, gt=0, lt=100, description="availability: e.g. 99.9"
    )
    percentile: Literal[95, 99] | None = Field(
        default=None, description="latency: this share of checks must answer within threshold_ms"
    )
    threshold_ms: float | None = Field(default=None, gt=0, le=600_000, description="latency")
    window_days: int = Field(default=30, ge=1, le=90, description="rolling window")


class SloOut(BaseModel):
    id: uuid.UUID
    name: str
    kind: SloKind
    monitor_id: uuid.UUID | None
    component_id: uuid.UUID | None
    target_pct: float
    percentile: int | None
    threshold_ms: float | None
    window_days: int
    created_at: datetime

    @classmethod
    def of(cls, slo: Slo) -> SloOut:
        latency = slo.kind is SloKind.LATENCY
        return cls(
            id=slo.id,
            name=slo.name,
            kind=slo.kind,
            monitor_id=slo.monitor_id,
            component_id=slo.component_id,
            target_pct=slo.target_pct,
            percentile=round(slo.target_pct) if latency else None,
            threshold_ms=slo.threshold_ms,
            window_days=slo.window_days,
            created_at=slo.created_at,
        )


class SloList(BaseModel):
    data: list[SloOut]


class BudgetOut(BaseModel):
    total_pct: float
    consumed_pct: float | None
    remaining_pct: float | None
    total_minutes: float | None = Field(description="availability SLOs only")
    remaining_minutes: float | None = Field(description="availability SLOs only")


class SloStatusOut(BaseModel):
    slo_id: uuid.UUID
    from_: datetime = Field(serialization_alias="from")
    to: datetime
    monitor_id: uuid.UUID | None
    good: int
    total: int
    sli_pct: float | None
    target_pct: float
    error_budget: BudgetOut
    burn_rate_1h: float | None
    burn_rate_6h: float | None
    status: str

    @classmethod
    def of(cls, s: SloStatus) -> SloStatusOut:
        r = s.report
        minutes = s.slo.kind is SloKind.AVAILABILITY
        return cls(
            slo_id=s.slo.id,
            from_=s.start,
            to=s.end,
            monitor_id=s.monitor_id,
            good=s.window.good,
            total=s.window.total,
            sli_pct=r.sli_pct,
            target_pct=r.target_pct,
            error_budget=BudgetOut(
                total_pct=r.budget_total_pct,
                consumed_pct=r.budget_consumed_pct,
                remaining_pct=r.budget_remaining_pct,
                total_minutes=r.budget_total_minutes if minutes else None,
                remaining_minutes=r.budget_remaining_minutes if minutes else None,
            ),
            burn_rate_1h=r.burn_rate_1h,
            burn_rate_6h=r.burn_rate_6h,
            status=r.status.value,
        )


async def _validated(svc: Services, key: ApiKey, body: SloIn) -> Slo:
    """The SLO to store; 422 naming the field when the body is inconsistent."""
    if (body.monitor_id is None) == (body.component_id is None):
        raise invalid("monitor_id", "give exactly one of monitor_id and component_id")
    if body.monitor_id is not None and not await svc.store.get_monitor(key.org_id, body.monitor_id):
        raise invalid("monitor_id", "no such monitor")
    if body.component_id is not None and not any(
        c.id == body.component_id for c in await svc.store.list_components(key.org_id)
    ):
        raise invalid("component_id", "no such component")
    if body.kind is SloKind.AVAILABILITY:
        if body.target_pct is None:
            raise invalid("target_pct", "required for an availability SLO")
        for name in ("percentile", "threshold_ms"):
            if getattr(body, name) is not None:
                raise invalid(name, "only for a latency SLO")
        target, threshold = body.target_pct, None
    else:
        if body.percentile is None:
            raise invalid("percentile", "required for a latency SLO (95 or 99)")
        if body.threshold_ms is None:
            raise invalid("threshold_ms", "required for a latency SLO")
        if body.target_pct is not None:
            raise invalid("target_pct", "only for an availability SLO; use percentile")
        target, threshold = float(body.percentile), body.threshold_ms
    return Slo(
        id=new_id(),
        org_id=key.org_id,
        name=body.name,
        kind=body.kind,
        monitor_id=body.monitor_id,
        component_id=body.component_id,
        target_pct=target,
        threshold_ms=threshold,
        window_days=body.window_days,
        created_at=utcnow(),
    )


def _document(slo: Slo) -> dict[str, Any]:
    return SloOut.of(slo).model_dump(mode="json")


async def _get(svc: Services, key: ApiKey, slo_id: uuid.UUID) -> Slo:
    slo = await svc.store.get_slo(key.org_id, slo_id)
    if slo is None:
        raise not_found("slo")
    return slo


@router.post("", status_code=201, response_model=SloOut)
async def create_slo(body: SloIn, key: WriteKey, svc: ServicesDep) -> SloOut:
    slo = await svc.store.create_slo(await _validated(svc, key, body))
    await svc.store.audit(key.org_id, actor(key), "slo.create", "slo", slo.id, None, _document(slo))
    return SloOut.of(slo)


@router.get("", response_model=SloList)
async def list_slos(key: ReadKey, svc: ServicesDep) -> SloList:
    return SloList(data=[SloOut.of(s) for s in await svc.store.list_slos(key.org_id)])


@router.get("/{slo_id}", response_model=SloOut)
async def get_slo(slo_id: uuid.UUID, key: ReadKey, svc: ServicesDep) -> SloOut:
    return SloOut.of(await _get(svc, key, slo_id))


@router.delete("/{slo_id}", status_code=204)
async def delete_slo(slo_id: uuid.UUID, key: WriteKey, svc: ServicesDep) -> Response:
    current = await _get(svc, key, slo_id)
    if not await svc.store.delete_slo(key.org_id, slo_id):
        raise not_found("slo")
    await svc.store.audit(
        key.org_id, actor(key), "slo.delete", "slo", slo_id, _document(current), None
    )
    return Response(status_code=204)


@router.get("/{slo_id}/status", response_model=SloStatusOut, response_model_by_alias=True)
async def get_slo_status(slo_id: uuid.UUID, key: ReadKey, svc: ServicesDep) -> SloStatusOut:
    """SLI, error budget and 1 h / 6 h burn rates over the rolling window ending now."""
    slo = await _get(svc, key, slo_id)
    return SloStatusOut.of(await slo_status(svc.store, slo, utcnow()))
