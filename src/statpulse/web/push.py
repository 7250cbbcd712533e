"""Pings of heartbeat monitors (public, the token is the credential) and token rotation.

``GET|POST|HEAD`` on:

- ``/ping/{token}``: a run succeeded;
- ``/ping/{token}/start``: a run started (a success that follows carries its duration);
- ``/ping/{token}/fail``: a run failed;
- ``/ping/{token}/{exit_status}``: 0 succeeded, 1-255 failed (a shell's ``$?``).

Answers ``200 OK`` (text) when the token is known, also for a paused monitor (which records
nothing), and ``404`` otherwise; ``400`` for an exit status above 255. The token is found through
its unique index, so a wrong token costs one indexed lookup whatever it resembles. The first
10 KB of a POST body explain a failure (kept up to ``MAX_MESSAGE_CHARS``; never logged).

``POST /api/v1/monitors/{id}/push-token`` replaces the token: the old URL stops working at once.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from statpulse.engine.heartbeat import (
    HEARTBEAT_KIND,
    Signal,
    ping_message,
    signal_for_exit_code,
)
from statpulse.web.api.schemas import MonitorOut
from statpulse.web.deps import ServicesDep, WriteKey, actor
from statpulse.web.errors import ApiError, not_found
from statpulse.web.services import Services

router = APIRouter(tags=["heartbeats"])
api_router = APIRouter(prefix="/api/v1/monitors", tags=["monitors"])

MAX_BODY_BYTES = 10 * 1024
_NO_STORE = {"Cache-Control": "no-store"}
_EXIT_STATUS = re.compile(r"[0-9]{1,3}")
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/plain": {"example": "OK"}}},
    404: {"description": "No heartbeat monitor has this token."},
}

Endpoint = Callable[..., Awaitable[PlainTextResponse]]


def _ping_route(path: str, summary: str) -> Callable[[Endpoint], Endpoint]:
    """Register ``endpoint`` for GET, POST and HEAD (HEAD is left out of the OpenAPI document;
    one route per method keeps operation ids unique)."""

    def register(endpoint: Endpoint) -> Endpoint:
        for method in ("GET", "POST", "HEAD"):
            router.add_api_route(
                path,
                endpoint,
                methods=[method],
                name=f"{endpoint.__name__}_{method.lower()}",
                summary=summary,
                response_class=PlainTextResponse,
                responses=_RESPONSES,
                include_in_schema=method != "HEAD",
            )
        return endpoint

    return register


async def _body(request: Request) -> bytes:
    """At most ``MAX_BODY_BYTES`` of a POST body; the rest is not read."""
    if request.method != "POST":
        return b""
    body = bytearray()
    async with contextlib.aclosing(request.stream()) as chunks:
        async for chunk in chunks:
            body += chunk
            if len(body) >= MAX_BODY_BYTES:
                break
    return bytes(body[:MAX_BODY_BYTES])


async def _ping(
    svc: Services, token: str, signal: Signal, message: str | None = None
) -> PlainTextResponse:
    if await svc.heartbeats.ping(token, signal, message):
        return PlainTextResponse("OK", headers=_NO_STORE)
    return PlainTextResponse("not found", 404, headers=_NO_STORE)


@_ping_route("/ping/{token}", "Report a successful run")
async def ping_success(token: str, svc: ServicesDep) -> PlainTextResponse:
    return await _ping(svc, token, Signal.SUCCESS)


@_ping_route("/ping/{token}/start", "Report that a run started")
async def ping_start(token: str, svc: ServicesDep) -> PlainTextResponse:
    return await _ping(svc, token, Signal.START)


@_ping_route("/ping/{token}/fail", "Report a failed run (a POST body explains it)")
async def ping_fail(token: str, request: Request, svc: ServicesDep) -> PlainTextResponse:
    return await _ping(svc, token, Signal.FAIL, ping_message(await _body(request)))


@_ping_route("/ping/{token}/{exit_status}", "Report a run's exit status (0 success, 1-255 fail)")
async def ping_exit_status(
    token: str, exit_status: str, request: Request, svc: ServicesDep
) -> PlainTextResponse:
    if not _EXIT_STATUS.fullmatch(exit_status):
        return PlainTextResponse("not found", 404, headers=_NO_STORE)
    code = int(exit_status)
    try:
        signal = signal_for_exit_code(code)
    except ValueError as exc:
        return PlainTextResponse(str(exc), 400, headers=_NO_STORE)
    message = ping_message(await _body(request), code) if signal is Signal.FAIL else None
    return await _ping(svc, token, signal, message)


@api_router.post("/{monitor_id}/push-token", response_model=MonitorOut)
async def rotate_push_token(monitor_id: uuid.UUID, key: WriteKey, svc: ServicesDep) -> MonitorOut:
    """Replace a heartbeat monitor's push token; the old URL answers 404 from now on."""
    monitor = await svc.store.get_monitor(key.org_id, monitor_id)
    if monitor is None:
        raise not_found("monitor")
    if monitor.config.kind != HEARTBEAT_KIND:
        raise ApiError(409, "conflict", "only heartbeat monitors have a push URL", field="kind")
    await svc.heartbeats.token_for(monitor)  # push state must exist before it can rotate
    token = await svc.heartbeats.rotate(key.org_id, monitor_id)
    if token is None:
        raise not_found("monitor")
    await svc.store.audit(
        key.org_id, actor(key), "monitor.rotate_push_token", "monitor", monitor_id, None, None
    )
    return MonitorOut.of(monitor, token)
