"""PagerDuty V3 webhooks: a signed acknowledge or resolve updates the incident; nothing else."""

from __future__ import annotations

import hashlib
import hmac
import json

from statpulse.model import MonitorConfig, utcnow
from tests.api.conftest import Env

SECRET = "pd-signing-secret"


def _signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    sig = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-PagerDuty-Signature": f"v1=0000, v1={sig}", "Content-Type": "application/json"}


def _event(kind: str, key: str) -> bytes:
    data = {"id": "Q1", "type": "incident", "incident_key": key, "status": "acknowledged"}
    return json.dumps({"event": {"id": "E1", "event_type": kind, "data": data}}).encode()


async def _setup(env: Env):  # type: ignore[no-untyped-def]
    body = {
        "kind": "pagerduty",
        "name": "on-call",
        "config": {"routing_key": "R0UTING", "webhook_secret": SECRET},
    }
    r = await env.client.post("/api/v1/channels", json=body, headers=env.write)
    assert r.status_code == 201, r.text
    assert r.json()["config"]["webhook_secret"] == "********"
    store = env.services.store
    config = MonitorConfig(name="api", kind="http", target="http://x/")
    monitor = await store.create_monitor(env.org.id, config)
    incident = await store.open_draft_incident(env.org.id, monitor.id, "API down", "…", utcnow())
    assert incident is not None
    return r.json()["id"], monitor, incident


async def test_acknowledge_then_resolve_in_pagerduty_moves_the_incident(env: Env) -> None:
    channel, monitor, incident = await _setup(env)
    url = f"/api/v1/integrations/pagerduty/{channel}"
    ack = _event("incident.acknowledged", str(monitor.id))  # a monitor alert's dedup_key
    r = await env.client.post(url, content=ack, headers=_signed(ack))
    assert r.status_code == 202 and r.json()["applied"] is True
    found = await env.services.store.get_incident(env.org.id, incident)
    assert found is not None and found.status == "identified"
    done = _event("incident.resolved", str(incident))  # an incident message's dedup_key
    r = await env.client.post(url, content=done, headers=_signed(done))
    assert r.json()["applied"] is True
    found = await env.services.store.get_incident(env.org.id, incident)
    assert found is not None and found.status == "resolved" and found.resolved_at is not None


async def test_a_bad_signature_is_refused_and_changes_nothing(env: Env) -> None:
    channel, _, incident = await _setup(env)
    body = _event("incident.resolved", str(incident))
    for headers in (_signed(body, "wrong"), {"Content-Type": "application/json"}):
        r = await env.client.post(
            f"/api/v1/integrations/pagerduty/{channel}", content=body, headers=headers
        )
        assert r.status_code == 401
    found = await env.services.store.get_incident(env.org.id, incident)
    assert found is not None and found.status == "investigating"


async def test_an_unknown_incident_key_is_accepted_and_ignored(env: Env) -> None:
    channel, _, _ = await _setup(env)
    body = _event("incident.resolved", "not-ours")
    r = await env.client.post(
        f"/api/v1/integrations/pagerduty/{channel}", content=body, headers=_signed(body)
    )
    assert r.status_code == 202 and r.json()["applied"] is False
