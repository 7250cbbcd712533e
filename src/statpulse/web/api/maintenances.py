"""``/api/v1/maintenances``: maintenance windows (one-off, weekly, RFC 5545 RRULE or cron, each
in an IANA time zone) and the components they affect.

``POST`` (201), ``GET`` (list, newest first), ``GET /{id}``, ``PUT /{id}`` (replace),
``DELETE /{id}`` (204). Windows are checked with ``engine.maintenance.validate``: a bad one is
422 naming the field (``window.rrule``, ``window.end`` ...). Responses carry the occurrence in
progress (``active``) and the next ones (``next``), in UTC. Writes need a write key; another
organisation's maintenance is a 404.
"""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter
from dateutil.rrule import rrulestr
from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from statpulse.engine.maintenance import (
    MaintenanceWindow,
    WindowKind,
    active,
    next_occurrences,
    validate,
)
from statpulse.model import ApiKey, utcnow
from statpulse.store.sql_maintenance import Maintenance, window_document
from statpulse.web.api.incidents import ERRORS, ComponentIds, check_components
from statpulse.web.deps import ReadKey, ServicesDep, WriteKey, actor
from statpulse.web.errors import invalid, not_found
from statpulse.web.services import Services

router = APIRouter(prefix="/api/v1/maintenances", tags=["maintenances"], responses=ERRORS)

NEXT_OCCURRENCES = 5
MAX_SCAN = {WindowKind.RRULE: 50_000, WindowKind.CRON: 5_000}
"""The most occurrences computing a window may walk through (an RRULE from its DTSTART, a
cron expression over one window length and some): more would make every read of it slow."""
_FIELD = {
    WindowKind.ONE_OFF: "start",
    WindowKind.WEEKLY: "start_time",
    WindowKind.RRULE: "rrule",
    WindowKind.CRON: "cron",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WindowIn(_Strict):
    kind: WindowKind
    timezone: str = Field(default="UTC", max_length=64, description="IANA name.")
    start: datetime | None = Field(default=None, description="one_off: aware instant.")
    end: datetime | None = Field(default=None, description="one_off: aware instant.")
    weekdays: list[int] = Field(default_factory=list, max_length=7, description="0 = Monday.")
    start_time: time | None = Field(default=None, description="weekly: local time, no zone.")
    rrule: str | None = Field(
        default=None, max_length=4000, description="RFC 5545 lines, local DTSTART."
    )
    cron: str | None = Field(default=None, max_length=200)
    duration_s: int = Field(default=0, ge=0, le=31 * 86400, description="Recurring kinds.")

    def to_window(self) -> MaintenanceWindow:
        return MaintenanceWindow(
            kind=self.kind,
            timezone=self.timezone,
            start=self.start,
            end=self.end,
            weekdays=tuple(self.weekdays),
            start_time=self.start_time,
            rrule=self.rrule,
            cron=self.cron,
            duration_s=self.duration_s,
        )


class MaintenanceIn(_Strict):
    title: str = Field(min_length=1, max_length=300)
    body: str = Field(default="", max_length=20_000, description="Markdown.")
    window: WindowIn
    components: ComponentIds = Field(default_factory=list)


class OccurrenceOut(BaseModel):
    start: datetime
    end: datetime


class WindowOut(BaseModel):
    kind: str
    timezone: str
    start: datetime | None
    end: datetime | None
    weekdays: list[int]
    start_time: time | None
    rrule: str | None
    cron: str | None
    duration_s: int


class MaintenanceOut(BaseModel):
    id: uuid.UUID
    title: str
    body: str
    window: WindowOut
    components: list[uuid.UUID]
    active: OccurrenceOut | None = Field(description="The occurrence in progress, if any.")
    next: list[OccurrenceOut] = Field(description="The next occurrences, soonest first.")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, m: Maintenance, now: datetime) -> MaintenanceOut:
        current = active(m.window, now)
        return cls(
            id=m.id,
            title=m.title,
            body=m.body,
            window=WindowOut.model_validate(window_document(m.window)),
            components=list(m.components),
            active=OccurrenceOut(start=current[0], end=current[1]) if current else None,
            next=[
                OccurrenceOut(start=s, end=e)
                for s, e in next_occurrences(m.window, now, NEXT_OCCURRENCES)
            ],
            created_at=m.created_at,
            updated_at=m.updated_at,
        )


class MaintenanceList(BaseModel):
    data: list[MaintenanceOut]


def _too_costly(window: MaintenanceWindow, now: datetime) -> str | None:
    """Why computing ``window``'s occurrences at ``now`` would walk through too many of them
    (dateutil starts an RRULE at its DTSTART; ``engine.maintenance`` walks a cron expression
    from one window length and 3 h before ``now``), or None."""
    local_now = now.astimezone(ZoneInfo(window.timezone)).replace(tzinfo=None)
    if window.kind is WindowKind.RRULE:
        for walked, start in enumerate(rrulestr(window.rrule or "", forceset=True)):
            if start > local_now:
                break
            if walked >= MAX_SCAN[WindowKind.RRULE]:
                return "too many occurrences before now: move DTSTART closer to now"
    elif window.kind is WindowKind.CRON:
        it = croniter(window.cron or "", local_now - timedelta(seconds=window.duration_s, hours=4))
        for _ in range(MAX_SCAN[WindowKind.CRON]):
            if it.get_next(datetime) > local_now:
                break
        else:
            return "occurs too often for its duration_s"
    return None


def checked_window(window: MaintenanceWindow, now: datetime) -> MaintenanceWindow:
    """``window`` once ``engine.maintenance.validate`` accepts it and its occurrences can be
    computed cheaply; else 422 naming the field (``window.rrule`` ...)."""
    try:
        validate(window)
    except ValueError as exc:
        field, _, message = str(exc).partition(": ")
        raise invalid(f"window.{field}", message or str(exc)) from exc
    field = f"window.{_FIELD[window.kind]}"
    try:
        reason = _too_costly(window, now)
        if reason is not None:
            raise invalid(field, reason)
        upcoming = next_occurrences(window, now, 1)
        active(window, now)
    except (ValueError, OverflowError) as exc:  # croniter's "no such date", year 10000
        raise invalid(field, f"occurrences cannot be computed: {exc}") from exc
    if not upcoming and window.kind in (WindowKind.RRULE, WindowKind.CRON):
        raise invalid(field, "never occurs after now")
    return window


async def _checked(svc: Services, key: ApiKey, body: MaintenanceIn) -> MaintenanceWindow:
    window = checked_window(body.window.to_window(), utcnow())
    await check_components(svc, key, body.components)
    return window


@router.post("", status_code=201, response_model=MaintenanceOut)
async def create_maintenance(
    body: MaintenanceIn, key: WriteKey, svc: ServicesDep
) -> MaintenanceOut:
    window = await _checked(svc, key, body)
    now = utcnow()
    created = await svc.store.create_maintenance(
        key.org_id, actor(key), body.title, body.body, window, tuple(body.components), now
    )
    return MaintenanceOut.of(created, now)


@router.get("", response_model=MaintenanceList)
async def list_maintenances(key: ReadKey, svc: ServicesDep) -> MaintenanceList:
    now = utcnow()
    found = await svc.store.list_maintenances(key.org_id)
    return MaintenanceList(data=[MaintenanceOut.of(m, now) for m in found])


@router.get("/{maintenance_id}", response_model=MaintenanceOut)
async def get_maintenance(
    maintenance_id: uuid.UUID, key: ReadKey, svc: ServicesDep
) -> MaintenanceOut:
    found = await svc.store.get_maintenance(key.org_id, maintenance_id)
    if found is None:
        raise not_found("maintenance")
    return MaintenanceOut.of(found, utcnow())


@router.put("/{maintenance_id}", response_model=MaintenanceOut)
async def replace_maintenance(
    maintenance_id: uuid.UUID, body: MaintenanceIn, key: WriteKey, svc: ServicesDep
) -> MaintenanceOut:
    if await svc.store.get_maintenance(key.org_id, maintenance_id) is None:
        raise not_found("maintenance")
    window = await _checked(svc, key, body)
    now = utcnow()
    updated = await svc.store.update_maintenance(
        key.org_id,
        maintenance_id,
        actor(key),
        body.title,
        body.body,
        window,
        tuple(body.components),
        now,
    )
    if updated is None:
        raise not_found("maintenance")
    return MaintenanceOut.of(updated, now)


@router.delete("/{maintenance_id}", status_code=204)
async def delete_maintenance(
    maintenance_id: uuid.UUID, key: WriteKey, svc: ServicesDep
) -> Response:
    if not await svc.store.delete_maintenance(key.org_id, maintenance_id, actor(key), utcnow()):
        raise not_found("maintenance")
    return Response(status_code=204)
