"""``/api/v1/incidents``: the incident workflow.

- ``POST /api/v1/incidents``: open an incident (a draft unless ``publish``), with its first
  timeline entry; 409 naming ``monitor_id`` when that monitor already has an open incident.
- ``GET /api/v1/incidents`` (``limit``, ``cursor``, ``drafts``): newest first, paged by an
  opaque ``next_cursor``; ``GET /api/v1/incidents/{id}``.
- ``POST /api/v1/incidents/{id}/updates``: a timeline entry (status, Markdown body, optional
  impact and components); a move the state machine forbids is 409 ``invalid_transition``
  naming ``status`` and changes nothing.
- ``POST /api/v1/incidents/{id}/publish`` (TTPU recorded at the first publication) and
  ``POST /api/v1/incidents/{id}/resolve``.
- ``GET|PUT /api/v1/incidents/settings``: the organisation's auto-publish delay (off: null).

Mutations need a write key, reads any key; another organisation's incident is a 404.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from statpulse.engine.incidents import OPEN, Impact, IncidentState, InvalidTransition
from statpulse.engine.subscriber_news import notify_subscribers
from statpulse.model import ApiKey, utcnow
from statpulse.store.contract import Conflict
from statpulse.store.sql_incidents import Incident
from statpulse.web.deps import ReadKey, ServicesDep, WriteKey, actor
from statpulse.web.errors import ApiError, invalid, not_found
from statpulse.web.services import Services


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorOut(BaseModel):
    """The API's one error shape."""

    error: ErrorDetail


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "Missing or invalid API key."},
    403: {"model": ErrorOut, "description": "A read-only key on a write endpoint."},
    404: {"model": ErrorOut, "description": "No such id in the organisation."},
    422: {"model": ErrorOut, "description": "Invalid input; `field` names it."},
}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorOut, "description": "`invalid_transition` (field `status`) or a conflict."}
}

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"], responses=ERRORS)

MAX_AUTO_PUBLISH_S = 7 * 86400


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


Body = Annotated[str, Field(min_length=1, max_length=20_000, description="Markdown.")]
ComponentIds = Annotated[list[uuid.UUID], Field(max_length=100)]


class IncidentIn(_Strict):
    title: str = Field(min_length=1, max_length=300)
    body: Body
    status: IncidentState = Field(default=IncidentState.INVESTIGATING, description="An open state.")
    impact: Impact = Impact.MINOR
    components: ComponentIds = Field(default_factory=list)
    monitor_id: uuid.UUID | None = None
    auto_resolve: bool = Field(default=True, description="Resolve when the monitor recovers.")
    publish: bool = Field(default=False, description="Publish at once (else a draft).")
    started_at: datetime | None = Field(default=None, description="Default: now.")


class UpdateIn(_Strict):
    status: IncidentState
    body: Body
    impact: Impact | None = None
    components: ComponentIds | None = None


class ResolveIn(_Strict):
    body: Body = "This incident has been resolved."


class UpdateOut(BaseModel):
    id: uuid.UUID
    status: str
    body: str
    author: str
    at: datetime


class IncidentOut(BaseModel):
    id: uuid.UUID
    monitor_id: uuid.UUID | None
    title: str
    status: str
    impact: str
    components: list[uuid.UUID]
    auto_resolve: bool
    draft: bool = Field(description="Not public until published.")
    published_at: datetime | None
    ttpu_s: float | None = Field(description="Seconds from start to first publication.")
    started_at: datetime
    resolved_at: datetime | None
    updates: list[UpdateOut]

    @classmethod
    def of(cls, i: Incident) -> IncidentOut:
        return cls(
            id=i.id,
            monitor_id=i.monitor_id,
            title=i.title,
            status=i.status,
            impact=i.impact,
            components=list(i.components),
            auto_resolve=i.auto_resolve,
            draft=i.published_at is None,
            published_at=i.published_at,
            ttpu_s=i.ttpu_s,
            started_at=i.started_at,
            resolved_at=i.resolved_at,
            updates=[UpdateOut(**u) for u in i.updates],
        )


class IncidentList(BaseModel):
    data: list[IncidentOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page.")


class SettingsIn(_Strict):
    auto_publish_after_s: int | None = Field(ge=0, le=MAX_AUTO_PUBLISH_S)


class SettingsOut(BaseModel):
    auto_publish_after_s: int | None = Field(
        description="Drafts are published this many seconds after they open; null: never."
    )


# paging (shared with the audit log)


def encode_cursor(at: datetime, item_id: uuid.UUID) -> str:
    raw = f"{at.astimezone(UTC).isoformat()}|{item_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    """Raises 422 naming ``cursor`` when it is not one of ours."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, _, item_id = raw.partition("|")
        when = datetime.fromisoformat(at)
        if when.tzinfo is None:
            raise ValueError("naive")
        return when, uuid.UUID(item_id)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise invalid("cursor", "not a cursor returned by this API") from exc


async def check_components(
    svc: Services, key: ApiKey, ids: Sequence[uuid.UUID], field: str = "components"
) -> None:
    """422 naming ``components[i]`` when an id is not one of the organisation's components."""
    known = {c.id for c in await svc.store.list_components(key.org_id)}
    for index, component_id in enumerate(ids):
        if component_id not in known:
            raise invalid(f"{field}[{index}]", "no such component")


def _author(key: ApiKey) -> str:
    return key.name or actor(key)


async def _found(incident: Incident | None) -> IncidentOut:
    if incident is None:
        raise not_found("incident")
    return IncidentOut.of(incident)


@router.get("/settings", response_model=SettingsOut)
async def get_settings(key: ReadKey, svc: ServicesDep) -> SettingsOut:
    return SettingsOut(auto_publish_after_s=await svc.store.get_auto_publish(key.org_id))


@router.put("/settings", response_model=SettingsOut)
async def put_settings(body: SettingsIn, key: WriteKey, svc: ServicesDep) -> SettingsOut:
    await svc.store.set_auto_publish(key.org_id, actor(key), body.auto_publish_after_s, utcnow())
    return SettingsOut(auto_publish_after_s=body.auto_publish_after_s)


@router.post("", status_code=201, response_model=IncidentOut, responses=CONFLICT)
async def create_incident(body: IncidentIn, key: WriteKey, svc: ServicesDep) -> IncidentOut:
    now = utcnow()
    if body.status not in OPEN:
        raise invalid("status", "a new incident must be investigating, identified or monitoring")
    if body.started_at is not None:
        if body.started_at.tzinfo is None:
            raise invalid("started_at", "must include a time zone offset")
        try:
            body.started_at.astimezone(UTC)
        except OverflowError as exc:
            raise invalid("started_at", "out of range") from exc
        if body.started_at > now:
            raise invalid("started_at", "must not be in the future")
    if body.monitor_id is not None and not await svc.store.get_monitor(key.org_id, body.monitor_id):
        raise invalid("monitor_id", "no such monitor")
    await check_components(svc, key, body.components)
    try:
        incident = await svc.store.create_incident(
            key.org_id,
            actor(key),
            _author(key),
            title=body.title,
            body=body.body,
            at=now,
            status=body.status,
            impact=body.impact,
            components=body.components,
            monitor_id=body.monitor_id,
            auto_resolve=body.auto_resolve,
            publish=body.publish,
            started_at=body.started_at,
        )
    except Conflict as exc:
        raise ApiError(409, "conflict", f"{exc.field}: {exc}", field=exc.field) from exc
    await notify_subscribers(svc.store, incident, "incident.opened", now)
    return IncidentOut.of(incident)


@router.get("", response_model=IncidentList)
async def list_incidents(
    key: ReadKey,
    svc: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    drafts: Annotated[bool, Query(description="Include unpublished drafts.")] = True,
) -> IncidentList:
    """Newest first (by start); a draft (``draft: true``) is not public until published."""
    found = await svc.store.incident_page(key.org_id, limit, decode_cursor(cursor), drafts)
    last = found[-1] if len(found) == limit else None
    return IncidentList(
        data=[IncidentOut.of(i) for i in found],
        next_cursor=encode_cursor(last.started_at, last.id) if last else None,
    )


@router.get("/{incident_id}", response_model=IncidentOut)
async def get_incident(incident_id: uuid.UUID, key: ReadKey, svc: ServicesDep) -> IncidentOut:
    return await _found(await svc.store.get_incident(key.org_id, incident_id))


async def _update(svc: Services, key: ApiKey, incident_id: uuid.UUID, **kwargs: Any) -> IncidentOut:
    now = utcnow()
    try:
        updated = await svc.store.add_incident_update(
            key.org_id, incident_id, actor(key), _author(key), at=now, **kwargs
        )
    except InvalidTransition as exc:
        raise ApiError(409, "invalid_transition", str(exc), field="status") from exc
    except Conflict as exc:
        raise ApiError(409, "conflict", f"{exc.field}: {exc}", field=exc.field) from exc
    if updated is not None:
        resolved = updated.status == IncidentState.RESOLVED
        event = "incident.resolved" if resolved else "incident.updated"
        await notify_subscribers(svc.store, updated, event, now)
    return await _found(updated)


@router.post(
    "/{incident_id}/updates", status_code=201, response_model=IncidentOut, responses=CONFLICT
)
async def add_update(
    incident_id: uuid.UUID, body: UpdateIn, key: WriteKey, svc: ServicesDep
) -> IncidentOut:
    """A new timeline entry; the incident moves to its ``status``."""
    if body.components is not None:
        await check_components(svc, key, body.components)
    return await _update(
        svc,
        key,
        incident_id,
        status=body.status,
        body=body.body,
        impact=body.impact,
        components=body.components,
    )


@router.post("/{incident_id}/publish", response_model=IncidentOut)
async def publish(incident_id: uuid.UUID, key: WriteKey, svc: ServicesDep) -> IncidentOut:
    """Make a draft public; TTPU is recorded the first time. Publishing again is a no-op."""
    now = utcnow()
    incident = await svc.store.publish_incident(key.org_id, incident_id, actor(key), now)
    if incident is not None:
        await notify_subscribers(svc.store, incident, "incident.opened", now)
    return await _found(incident)


@router.post("/{incident_id}/resolve", response_model=IncidentOut, responses=CONFLICT)
async def resolve(
    incident_id: uuid.UUID, key: WriteKey, svc: ServicesDep, body: ResolveIn | None = None
) -> IncidentOut:
    """A ``resolved`` timeline entry (the body is optional)."""
    text = (body or ResolveIn()).body
    return await _update(svc, key, incident_id, status=IncidentState.RESOLVED, body=text)
