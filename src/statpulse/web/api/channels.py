"""Notification channels: ``/api/v1/channels``.

- ``POST /api/v1/channels`` ``{"kind", "name", "config", "events"?}`` -> 201; the config is
  validated by the kind's Notifier (an error names the field, e.g. ``config.url``).
- ``GET /api/v1/channels``, ``GET /api/v1/channels/{id}``: secrets redacted.
- ``DELETE /api/v1/channels/{id}``; ``POST /api/v1/channels/{id}/enable`` and ``/disable``.
- ``POST /api/v1/channels/{id}/test``: sends a test message now (not through the outbox: the
  caller waits for the provider's answer) -> 200 ``{"delivered": true, "status"}``, or 502
  ``delivery_failed`` with the provider's error.
- ``GET /api/v1/channels/{id}/deliveries``: the channel's outbox rows, newest last.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from statpulse.model import new_id, utcnow
from statpulse.notify import NOTIFIERS, ConfigError, DeliveryError, Message
from statpulse.notify.message import EVENTS
from statpulse.store.sql_channels import Channel
from statpulse.web.deps import ReadKey, ServicesDep, WriteKey
from statpulse.web.errors import ApiError, invalid, not_found

router = APIRouter(prefix="/api/v1/channels", tags=["channels"])
REDACTED = "********"


class ChannelIn(BaseModel):
    kind: str = Field(description="One of: " + ", ".join(NOTIFIERS))
    name: str = Field(min_length=1, max_length=200)
    config: dict[str, Any]
    events: list[str] = Field(default_factory=list, description="Empty: every event.")


class ChannelOut(BaseModel):
    id: uuid.UUID
    kind: str
    name: str
    config: dict[str, Any]
    events: list[str]
    enabled: bool
    last_error: str | None
    last_error_at: datetime | None
    created_at: datetime


class TestOut(BaseModel):
    delivered: bool
    status: int | None
    detail: str


class DeliveryOut(BaseModel):
    id: uuid.UUID
    event: str
    state: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    sent_at: datetime | None
    created_at: datetime


def _out(channel: Channel) -> ChannelOut:
    config = {
        k: (REDACTED if k in channel.secret_fields and v is not None else v)
        for k, v in channel.config.items()
    }
    return ChannelOut(
        id=channel.id,
        kind=channel.kind,
        name=channel.name,
        config=config,
        events=list(channel.events),
        enabled=channel.enabled,
        last_error=channel.last_error,
        last_error_at=channel.last_error_at,
        created_at=channel.created_at,
    )


@router.post("", status_code=201, response_model=ChannelOut)
async def create_channel(body: ChannelIn, key: WriteKey, svc: ServicesDep) -> ChannelOut:
    notifier = NOTIFIERS.get(body.kind)
    if notifier is None:
        raise invalid("kind", f"unknown channel kind; one of {', '.join(NOTIFIERS)}")
    for i, event in enumerate(body.events):
        if event not in EVENTS or event == "test":
            raise invalid(f"events[{i}]", f"unknown event {event!r}")
    try:
        config = notifier.validate(body.config)
    except ConfigError as exc:
        raise invalid(exc.field, exc.message) from exc
    channel = await svc.store.create_channel(
        key.org_id, body.kind, body.name, config, notifier.secret_fields(), body.events
    )
    return _out(channel)


@router.get("", response_model=list[ChannelOut])
async def list_channels(key: ReadKey, svc: ServicesDep) -> list[ChannelOut]:
    return [_out(c) for c in await svc.store.list_channels(key.org_id)]


@router.get("/{channel_id}", response_model=ChannelOut)
async def get_channel(channel_id: uuid.UUID, key: ReadKey, svc: ServicesDep) -> ChannelOut:
    return _out(await _channel(svc, key.org_id, channel_id))


@router.delete("/{channel_id}", status_code=204)
async def delete_channel(channel_id: uuid.UUID, key: WriteKey, svc: ServicesDep) -> None:
    if not await svc.store.delete_channel(key.org_id, channel_id):
        raise not_found("channel")


@router.post("/{channel_id}/enable", response_model=ChannelOut)
async def enable_channel(channel_id: uuid.UUID, key: WriteKey, svc: ServicesDep) -> ChannelOut:
    return await _set_enabled(svc, key.org_id, channel_id, True)


@router.post("/{channel_id}/disable", response_model=ChannelOut)
async def disable_channel(channel_id: uuid.UUID, key: WriteKey, svc: ServicesDep) -> ChannelOut:
    return await _set_enabled(svc, key.org_id, channel_id, False)


@router.post("/{channel_id}/test", response_model=TestOut)
async def test_channel(channel_id: uuid.UUID, key: WriteKey, svc: ServicesDep) -> TestOut:
    channel = await _channel(svc, key.org_id, channel_id)
    message = Message(
        id=f"test_{new_id()}",
        event="test",
        title="StatPulse test notification",
        text=f"This is a test of the channel {channel.name!r}. If you can read it, it works.",
        occurred_at=utcnow(),
        severity="none",
        status="test",
    )
    try:
        done = await NOTIFIERS[channel.kind].send(message, channel.config, svc.http)
    except (DeliveryError, ConfigError) as exc:
        raise ApiError(502, "delivery_failed", str(exc)) from exc
    return TestOut(delivered=True, status=done.status, detail=done.detail)


@router.get("/{channel_id}/deliveries", response_model=list[DeliveryOut])
async def deliveries(channel_id: uuid.UUID, key: ReadKey, svc: ServicesDep) -> list[DeliveryOut]:
    await _channel(svc, key.org_id, channel_id)
    rows = await svc.store.outbox_rows(channel_id)
    return [DeliveryOut(event=str(r["message"].get("event", "")), **r) for r in rows]


async def _channel(svc: ServicesDep, org_id: uuid.UUID, channel_id: uuid.UUID) -> Channel:
    channel = await svc.store.get_channel(org_id, channel_id)
    if channel is None:
        raise not_found("channel")
    return channel


async def _set_enabled(
    svc: ServicesDep, org_id: uuid.UUID, channel_id: uuid.UUID, enabled: bool
) -> ChannelOut:
    if not await svc.store.set_channel_enabled(org_id, channel_id, enabled):
        raise not_found("channel")
    return _out(await _channel(svc, org_id, channel_id))
