"""``/api/v1/monitors``: create, list, get, update, delete, pause/resume, stats."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import ValidationError

from statpulse.engine.dependencies import validate_parents
from statpulse.engine.heartbeat import HEARTBEAT_KIND
from statpulse.engine.stats import Stats
from statpulse.model import ApiKey, Monitor, utcnow
from statpulse.reports.ranges import range_stats
from statpulse.web.api.schemas import (
    MonitorIn,
    MonitorList,
    MonitorOut,
    MonitorPatch,
    MonitorStatsOut,
    StatsOut,
    config_document,
    redacted_document,
)
from statpulse.web.api.validation import check_config
from statpulse.web.deps import ReadKey, ServicesDep, WriteKey, actor
from statpulse.web.errors import field_path, invalid, not_found
from statpulse.web.services import Services

router = APIRouter(prefix="/api/v1/monitors", tags=["monitors"])

MAX_STATS_RANGE = timedelta(days=366)


async def _out(svc: Services, monitor: Monitor) -> MonitorOut:
    """The response body; a heartbeat monitor's carries its push URL."""
    return MonitorOut.of(monitor, await svc.heartbeats.token_for(monitor))


async def _get(svc: Services, key: ApiKey, monitor_id: uuid.UUID) -> Monitor:
    monitor = await svc.store.get_monitor(key.org_id, monitor_id)
    if monitor is None:
        raise not_found("monitor")
    return monitor


async def _check_parent(
    svc: Services, key: ApiKey, monitor_id: uuid.UUID | None, parent: uuid.UUID | None
) -> None:
    """The parent must be another monitor of the organisation, and no cycle may form."""
    if parent is None:
        return
    monitors = {m.id: m.config.depends_on for m in await svc.store.list_monitors(key.org_id)}
    if parent not in monitors:
        raise invalid("depends_on", "no such monitor in this organisation")
    this = monitor_id or uuid.UUID(int=0)  # a new monitor: nothing can depend on it yet
    monitors[this] = parent
    try:
        validate_parents(monitors)
    except ValueError as exc:
        raise invalid("depends_on", str(exc).removeprefix("parent: ")) from exc


@router.post("", status_code=201, response_model=MonitorOut)
async def create_monitor(body: MonitorIn, key: WriteKey, svc: ServicesDep) -> MonitorOut:
    config = body.to_config()
    check_config(config)
    await _check_parent(svc, key, None, config.depends_on)
    monitor = await svc.store.create_monitor(key.org_id, config)
    await svc.store.audit(
        key.org_id,
        actor(key),
        "monitor.create",
        "monitor",
        monitor.id,
        None,
        redacted_document(config),
    )
    svc.monitors_changed()
    return await _out(svc, monitor)


@router.get("", response_model=MonitorList)
async def list_monitors(key: ReadKey, svc: ServicesDep) -> MonitorList:
    found = await svc.store.list_monitors(key.org_id)
    tokens = await svc.heartbeats.tokens_for(found)
    return MonitorList(data=[MonitorOut.of(m, tokens.get(m.id)) for m in found])


@router.get("/{monitor_id}", response_model=MonitorOut)
async def get_monitor(monitor_id: uuid.UUID, key: ReadKey, svc: ServicesDep) -> MonitorOut:
    return await _out(svc, await _get(svc, key, monitor_id))


@router.patch("/{monitor_id}", response_model=MonitorOut)
async def update_monitor(
    monitor_id: uuid.UUID, body: MonitorPatch, key: WriteKey, svc: ServicesDep
) -> MonitorOut:
    current = await _get(svc, key, monitor_id)
    merged: dict[str, Any] = config_document(current.config)
    for name, value in body.set_fields(nullable=("depends_on",)).items():  # null: no parent
        if name in MonitorPatch.NESTED:
            merged[name] = {**merged[name], **value}
        else:
            merged[name] = value
    try:
        config = MonitorIn.model_validate(merged).to_config()
    except ValidationError as exc:
        err = exc.errors()[0]
        raise invalid(field_path(err["loc"]), err["msg"]) from exc
    check_config(config)
    await _check_parent(svc, key, monitor_id, config.depends_on)
    updated = await svc.store.update_monitor(key.org_id, monitor_id, config)
    if updated is None:
        raise not_found("monitor")
    if config.kind == HEARTBEAT_KIND != current.config.kind:
        await svc.heartbeats.resumed(key.org_id, monitor_id)  # silence counts from now
    await svc.store.audit(
        key.org_id,
        actor(key),
        "monitor.update",
        "monitor",
        monitor_id,
        redacted_document(current.config),
        redacted_document(config),
    )
    svc.monitors_changed()
    return await _out(svc, updated)


@router.delete("/{monitor_id}", status_code=204)
async def delete_monitor(monitor_id: uuid.UUID, key: WriteKey, svc: ServicesDep) -> Response:
    current = await _get(svc, key, monitor_id)
    if not await svc.store.delete_monitor(key.org_id, monitor_id):
        raise not_found("monitor")
    await svc.store.audit(
        key.org_id,
        actor(key),
        "monitor.delete",
        "monitor",
        monitor_id,
        redacted_document(current.config),
        None,
    )
    svc.monitors_changed()
    return Response(status_code=204)


async def _set_paused(
    svc: Services, key: ApiKey, monitor_id: uuid.UUID, paused: bool
) -> MonitorOut:
    current = await _get(svc, key, monitor_id)
    if current.paused and not paused:
        # A resumed heartbeat monitor gets a full interval and grace before it is overdue.
        await svc.heartbeats.resumed(key.org_id, monitor_id)
    updated = await svc.store.set_paused(key.org_id, monitor_id, paused)
    if updated is None:
        raise not_found("monitor")
    action = "monitor.pause" if paused else "monitor.resume"
    await svc.store.audit(key.org_id, actor(key), action, "monitor", monitor_id, None, None)
    svc.monitors_changed()
    return await _out(svc, updated)


@router.post("/{monitor_id}/pause", response_model=MonitorOut)
async def pause_monitor(monitor_id: uuid.UUID, key: WriteKey, svc: ServicesDep) -> MonitorOut:
    return await _set_paused(svc, key, monitor_id, True)


@router.post("/{monitor_id}/resume", response_model=MonitorOut)
async def resume_monitor(monitor_id: uuid.UUID, key: WriteKey, svc: ServicesDep) -> MonitorOut:
    return await _set_paused(svc, key, monitor_id, False)


def _stats_out(s: Stats) -> dict[str, Any]:
    return {
        "checks": s.checks,
        "uptime_pct": s.uptime_pct,
        "p50_ms": s.p50_ms,
        "p95_ms": s.p95_ms,
        "p99_ms": s.p99_ms,
        "downtime_s": s.downtime_s,
    }


@router.get("/{monitor_id}/stats", response_model=MonitorStatsOut, response_model_by_alias=True)
async def monitor_stats(
    monitor_id: uuid.UUID,
    key: ReadKey,
    svc: ServicesDep,
    start: Annotated[
        datetime | None, Query(alias="from", description="ISO 8601; default: `to` - 24 h")
    ] = None,
    end: Annotated[datetime | None, Query(alias="to", description="ISO 8601; default: now")] = None,
) -> MonitorStatsOut:
    """Uptime (ok / all checks, degraded counts as up), latency percentiles of ok checks
    (linear interpolation, within 1 %: merged from rollup sketches) and downtime (one check
    interval per failed check; overall: the mean over regions) for ``from <= started_at < to``,
    overall and per region. Whole days, hours and minutes are read from rollups, the sub-minute
    edges from raw results."""
    await _get(svc, key, monitor_id)
    end = _aware(end) if end else utcnow()
    start = _aware(start) if start else end - timedelta(hours=24)
    if start >= end:
        raise invalid("from", "must be before to")
    if end - start > MAX_STATS_RANGE:
        raise invalid("from", "range must not exceed 366 days")
    overall, regions = await range_stats(svc.store, monitor_id, start, end)
    return MonitorStatsOut.model_validate(
        {
            "monitor_id": monitor_id,
            "from_": start,
            "to": end,
            **_stats_out(overall),
            "regions": {r: StatsOut(**_stats_out(s)) for r, s in regions.items()},
        }
    )


def _aware(value: datetime) -> datetime:
    """Naive query times are taken as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
