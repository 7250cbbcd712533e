"""The audit log API: write keys only, newest first, paged, filtered, per organisation, with
the engine's changes attributed to ``system``."""

from __future__ import annotations

import uuid

from statpulse.model import utcnow
from tests.api.conftest import Env
from tests.api.test_incidents_api import MONITOR, error, post, wenv  # noqa: F401


async def test_the_audit_log_needs_a_write_key(env: Env) -> None:
    response = await env.client.get("/api/v1/audit", headers=env.read)
    assert (response.status_code, error(response)["code"]) == (403, "forbidden")
    assert (await env.client.get("/api/v1/audit")).status_code == 401


async def test_the_audit_log_is_paged_filtered_and_per_organisation(wenv: Env) -> None:  # noqa: F811
    env = wenv
    ids = [(await post(env, "/api/v1/incidents", {"title": f"i{n}", "body": "b"}))["id"]
           for n in range(3)]  # fmt: skip
    await post(env, "/api/v1/components", {"name": "API"})
    first = (await env.client.get("/api/v1/audit?limit=2", headers=env.write)).json()
    assert [e["action"] for e in first["data"]] == ["component.create", "incident.create"]
    rest = (
        await env.client.get(
            "/api/v1/audit", params={"cursor": first["next_cursor"]}, headers=env.write
        )
    ).json()
    assert [e["target_id"] for e in rest["data"]] == [ids[1], ids[0]]
    assert rest["next_cursor"] is None
    only = (
        await env.client.get("/api/v1/audit?target_type=incident&limit=10", headers=env.write)
    ).json()["data"]
    assert [e["target_id"] for e in only] == ids[::-1]
    assert (await env.client.get("/api/v1/audit", headers=env.other)).json()["data"] == []


async def test_engine_drafts_are_audited_as_system(env: Env) -> None:
    mid = (await post(env, "/api/v1/monitors", MONITOR))["id"]
    draft = await env.services.store.open_draft_incident(
        env.org.id, uuid.UUID(mid), "API is down", "Investigating", utcnow()
    )
    entries = (await env.client.get(f"/api/v1/audit?target_id={draft}", headers=env.write)).json()[
        "data"
    ]
    assert [(e["action"], e["actor"]) for e in entries] == [("incident.draft", "system")]
    assert entries[0]["after"]["published_at"] is None
