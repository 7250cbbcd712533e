"""Regions: what each region says about a monitor, and the runners' health.

- ``GET /api/v1/monitors/{id}/regions``: per region of the monitor its status and whether its
  last result is fresh, stale or missing, and the summary the status page shows
  ("2 of 5 regions failing, 1 stale").
- ``GET /api/v1/regions``: the remote runners' last health reports (version, clock offset, spool
  depth, lateness) and whether each region is healthy (a runner reported within 15 s).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel

from statpulse.engine.evaluate import stale_after
from statpulse.engine.regions import region_views, summary, unhealthy_regions
from statpulse.model import utcnow
from statpulse.web.deps import ReadKey, ServicesDep
from statpulse.web.errors import not_found

router = APIRouter(prefix="/api/v1", tags=["regions"])


class RegionOut(BaseModel):
    region: str
    status: str
    freshness: str
    last_result_at: datetime | None
    last_error: str | None


class MonitorRegionsOut(BaseModel):
    status: str
    summary: str
    regions: list[RegionOut]


@router.get("/monitors/{monitor_id}/regions", response_model=MonitorRegionsOut)
async def monitor_regions(
    monitor_id: uuid.UUID, key: ReadKey, svc: ServicesDep
) -> MonitorRegionsOut:
    monitor = await svc.store.get_monitor(key.org_id, monitor_id)
    if monitor is None:
        raise not_found("monitor")
    states = await svc.store.region_states([monitor_id])
    views = region_views(
        monitor.config.regions, states, utcnow(), stale_after(monitor.config.interval_s)
    )
    return MonitorRegionsOut(
        status=monitor.status.value,
        summary=summary(views),
        regions=[
            RegionOut(
                region=v.region,
                status=v.status.value,
                freshness=v.freshness,
                last_result_at=v.last_result_at,
                last_error=v.last_error,
            )
            for v in views
        ],
    )


class RunnerOut(BaseModel):
    runner: str
    version: str
    clock_offset_ms: float | None
    spool_depth: int
    spool_full: bool
    lateness_p99_ms: float | None
    last_seen_at: datetime


class RegionHealthOut(BaseModel):
    region: str
    healthy: bool
    runners: list[RunnerOut]


class RegionHealthList(BaseModel):
    data: list[RegionHealthOut]


@router.get("/regions", response_model=RegionHealthList)
async def regions(_key: ReadKey, svc: ServicesDep) -> RegionHealthList:
    reports = await svc.store.runner_health()
    unhealthy = unhealthy_regions(((h.region, h.last_seen_at) for h in reports), utcnow())
    by_region: dict[str, list[RunnerOut]] = {}
    for h in reports:
        by_region.setdefault(h.region, []).append(
            RunnerOut(
                runner=h.runner,
                version=h.version,
                clock_offset_ms=h.clock_offset_ms,
                spool_depth=h.spool_depth,
                spool_full=h.spool_full,
                lateness_p99_ms=h.lateness_p99_ms,
                last_seen_at=h.last_seen_at,
            )
        )
    return RegionHealthList(
        data=[
            RegionHealthOut(region=r, healthy=r not in unhealthy, runners=runners)
            for r, runners in sorted(by_region.items())
        ]
    )
