"""Inbound PagerDuty V3 webhooks: acknowledging or resolving in PagerDuty updates our incident.

``POST /api/v1/integrations/pagerduty/{channel_id}`` takes no API key: the request is
authenticated by ``X-PagerDuty-Signature`` (``v1=<hex HMAC-SHA256 of the raw body>`` under the
subscription's signing secret, several comma-separated during rotation;
https://developer.pagerduty.com/docs/webhooks/webhook-signatures/), checked in constant time
against the channel's ``webhook_secret``. A bad or missing signature is 401 and changes nothing.

The PagerDuty incident's ``incident_key`` is the ``dedup_key`` we sent (notify/pagerduty.py):
our incident id, or the monitor id for monitor alerts (then the monitor's open incident).
``incident.acknowledged`` moves an open incident to ``identified``; ``incident.resolved``
resolves it. Texts are written for customers (no names from PagerDuty). Other events, unknown
keys and incidents already in that state are acknowledged with 202 and ignored.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from statpulse.engine.incidents import OPEN, IncidentState
from statpulse.model import utcnow
from statpulse.store.sql_incidents import Incident
from statpulse.web.deps import ServicesDep
from statpulse.web.errors import ApiError, not_found

router = APIRouter(prefix="/api/v1/integrations", tags=["integrations"])
ACTOR = "pagerduty"
_MOVES = {
    "incident.acknowledged": (
        IncidentState.IDENTIFIED,
        "Our on-call team has been alerted and is working on this issue.",
    ),
    "incident.resolved": (IncidentState.RESOLVED, "This incident has been resolved."),
}


def signature_valid(secret: str, body: bytes, header: str) -> bool:
    expected = "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    given = [s.strip() for s in header.split(",") if s.strip()]
    return any(hmac.compare_digest(expected.encode(), s.encode()) for s in given)


@router.post("/pagerduty/{channel_id}", status_code=202)
async def pagerduty_webhook(
    channel_id: uuid.UUID, request: Request, svc: ServicesDep
) -> JSONResponse:
    channel = await svc.store.get_channel(None, channel_id)
    if channel is None or channel.kind != "pagerduty":
        raise not_found("channel")
    secret = channel.config.get("webhook_secret")
    body = await request.body()
    header = request.headers.get("x-pagerduty-signature", "")
    if not secret or not signature_valid(str(secret), body, header):
        raise ApiError(401, "unauthorized", "missing or invalid X-PagerDuty-Signature")
    try:
        event: dict[str, Any] = json.loads(body)["event"]
        kind, data = str(event["event_type"]), event.get("data") or {}
    except (ValueError, KeyError, TypeError) as exc:
        raise ApiError(400, "invalid", "not a PagerDuty V3 webhook event", field="event") from exc
    move = _MOVES.get(kind)
    incident = await _incident(svc, channel.org_id, str(data.get("incident_key") or ""))
    if move is None or incident is None:
        return JSONResponse({"applied": False}, status_code=202)
    status, text = move
    current = IncidentState(incident.status)
    if current not in OPEN or current is status:
        return JSONResponse({"applied": False}, status_code=202)
    await svc.store.add_incident_update(
        channel.org_id, incident.id, ACTOR, "PagerDuty", status=status, body=text, at=utcnow()
    )
    return JSONResponse({"applied": True, "incident": str(incident.id)}, status_code=202)


async def _incident(svc: ServicesDep, org_id: uuid.UUID, key: str) -> Incident | None:
    try:
        key_id = uuid.UUID(key)
    except ValueError:
        return None
    found = await svc.store.get_incident(org_id, key_id)
    if found is not None:
        return found
    open_ = [
        i
        for i in await svc.store.list_incidents(org_id)
        if i.monitor_id == key_id and i.resolved_at is None
    ]
    return open_[0] if open_ else None
