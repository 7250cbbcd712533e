"""The incidents API on SQLite and PostgreSQL: lifecycle, transitions naming ``status``, one
open incident per monitor, TTPU, auto-publish settings, paging, scopes and tenancy.

``wenv`` (an app on each database, an organisation, keys) is shared with the maintenance,
override and audit API tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from statpulse.model import Scope, utcnow
from statpulse.security import apikeys
from statpulse.settings import Settings
from statpulse.store.sql import open_store
from statpulse.web.app import create_app
from statpulse.web.services import Services
from tests.api.conftest import Env, _key
from tests.conftest import truncate_all

MONITOR = {"name": "API", "kind": "http", "target": "http://127.0.0.1:9/", "regions": ["eu"]}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def wenv(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Env]:
    """An app with a real store on each database, an organisation, its keys and another's."""
    if request.param == "sqlite":
        db = f"sqlite:///{tmp_path / 'api.db'}"
    else:
        db = request.getfixturevalue("pg_url")
        # Emptied before the app starts: a TRUNCATE racing the app's background tasks
        # (dispatcher, rollups) can deadlock with them.
        store = await open_store(db, migrate=False)
        try:
            await truncate_all(store)
        finally:
            await store.close()
    app = create_app(Settings(db=db, data_dir=tmp_path))
    async with app.router.lifespan_context(app):
        services: Services = app.state.services
        org = await services.store.create_org("acme", "Acme")
        other = await services.store.create_org("other", "Other")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Env(
                client,
                services,
                org,
                await _key(services, org, Scope.WRITE),
                await _key(services, org, Scope.READ),
                await _key(services, other, Scope.WRITE),
            )


async def post(env: Env, path: str, body: Any = None, status: int = 201) -> dict[str, Any]:
    response = await env.client.post(path, json=body, headers=env.write)
    assert response.status_code == status, response.text
    result: dict[str, Any] = response.json()
    return result


async def create(env: Env, **body: Any) -> dict[str, Any]:
    return await post(env, "/api/v1/incidents", {"title": "API errors", "body": "Looking", **body})


async def monitor(env: Env) -> str:
    return str((await post(env, "/api/v1/monitors", MONITOR))["id"])


def error(response: httpx.Response) -> dict[str, Any]:
    err: dict[str, Any] = response.json()["error"]
    return err


async def test_an_incident_goes_from_draft_to_resolved(wenv: Env) -> None:
    env = wenv
    inc = await create(env, impact="major")
    assert (inc["status"], inc["impact"], inc["draft"], inc["ttpu_s"]) == (
        "investigating",
        "major",
        True,
        None,
    )
    path = f"/api/v1/incidents/{inc['id']}"
    await post(env, f"{path}/updates", {"status": "identified", "body": "A bad deploy"})
    published = await post(env, f"{path}/publish", status=200)
    assert published["draft"] is False and published["ttpu_s"] >= 0
    await post(env, f"{path}/updates", {"status": "monitoring", "body": "Rolled back"})
    resolved = await post(env, f"{path}/resolve", {"body": "All good"}, status=200)
    assert resolved["status"] == "resolved" and resolved["resolved_at"] is not None
    got = (await env.client.get(path, headers=env.read)).json()
    assert [(u["status"], u["body"]) for u in got["updates"]] == [
        ("investigating", "Looking"),
        ("identified", "A bad deploy"),
        ("monitoring", "Rolled back"),
        ("resolved", "All good"),
    ]
    assert {u["author"] for u in got["updates"]} == {"test"}  # the API key's name
    listed = (await env.client.get("/api/v1/incidents", headers=env.read)).json()
    assert [i["id"] for i in listed["data"]] == [inc["id"]]


async def test_an_invalid_transition_names_status_and_changes_nothing(wenv: Env) -> None:
    env = wenv
    inc = await create(env)
    path = f"/api/v1/incidents/{inc['id']}"
    await post(env, f"{path}/resolve", status=200)
    await post(env, f"{path}/updates", {"status": "postmortem", "body": "What happened"})
    before = (await env.client.get(path, headers=env.read)).json()
    response = await env.client.post(
        f"{path}/updates", json={"status": "monitoring", "body": "x"}, headers=env.write
    )
    assert response.status_code == 409
    assert error(response)["field"] == "status"
    assert error(response)["code"] == "invalid_transition"
    assert (await env.client.get(path, headers=env.read)).json() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": "x", "body": "y", "status": "resolved"}, "status"),
        ({"title": "x", "body": "y", "status": "broken"}, "status"),
        ({"title": "x", "body": "y", "impact": "huge"}, "impact"),
        ({"title": "", "body": "y"}, "title"),
        ({"title": "x", "body": "y", "components": ["0190a0a0-0000-7000-8000-000000000000"]},
         "components[0]"),
        ({"title": "x", "body": "y", "monitor_id": "0190a0a0-0000-7000-8000-000000000000"},
         "monitor_id"),
        ({"title": "x", "body": "y", "started_at": "2999-01-01T00:00:00Z"}, "started_at"),
        ({"title": "x", "body": "y", "started_at": "0001-01-01T00:00:00+01:00"}, "started_at"),
        ({"title": "x", "body": "y", "started_at": "2026-01-01T00:00:00"}, "started_at"),
    ],
)  # fmt: skip
async def test_bad_incident_input_names_the_field(
    env: Env, body: dict[str, Any], field: str
) -> None:
    response = await env.client.post("/api/v1/incidents", json=body, headers=env.write)
    assert response.status_code == 422
    assert error(response)["field"] == field
    assert (await env.client.get("/api/v1/incidents", headers=env.read)).json()["data"] == []


async def test_one_open_incident_per_monitor_under_concurrent_creates(wenv: Env) -> None:
    env = wenv
    mid = await monitor(env)
    responses = await asyncio.gather(
        *(
            env.client.post(
                "/api/v1/incidents",
                json={"title": "down", "body": "b", "monitor_id": mid},
                headers=env.write,
            )
            for _ in range(6)
        )
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [201, 409, 409, 409, 409, 409]
    assert {error(r)["field"] for r in responses if r.status_code == 409} == {"monitor_id"}
    [created] = [r.json() for r in responses if r.status_code == 201]
    # Once resolved, the monitor's next outage may have its own incident.
    await post(env, f"/api/v1/incidents/{created['id']}/resolve", status=200)
    await create(env, monitor_id=mid)


async def test_publishing_records_ttpu_once(env: Env) -> None:
    started = (utcnow() - timedelta(minutes=5)).isoformat()
    inc = await create(env, started_at=started)
    path = f"/api/v1/incidents/{inc['id']}/publish"
    first = await post(env, path, status=200)
    second = await post(env, path, status=200)
    assert 300 <= first["ttpu_s"] < 400
    assert (second["published_at"], second["ttpu_s"]) == (first["published_at"], first["ttpu_s"])
    entries = (await env.client.get("/api/v1/audit", headers=env.write)).json()["data"]
    assert [e["action"] for e in entries].count("incident.publish") == 1


async def test_created_published_incident_has_zero_ttpu(env: Env) -> None:
    inc = await create(env, publish=True)
    assert (inc["draft"], inc["ttpu_s"]) == (False, 0.0)


async def test_auto_publish_setting_publishes_drafts_when_due(wenv: Env) -> None:
    env = wenv
    url = "/api/v1/incidents/settings"
    assert (await env.client.get(url, headers=env.read)).json() == {"auto_publish_after_s": None}
    denied = await env.client.put(url, json={"auto_publish_after_s": 60}, headers=env.read)
    assert denied.status_code == 403
    bad = await env.client.put(url, json={"auto_publish_after_s": -1}, headers=env.write)
    assert (bad.status_code, error(bad)["field"]) == (422, "auto_publish_after_s")
    ok = await env.client.put(url, json={"auto_publish_after_s": 60}, headers=env.write)
    assert ok.json() == {"auto_publish_after_s": 60}
    inc = await create(env)
    store = env.services.store
    assert await store.auto_publish_due_drafts(utcnow()) == []
    published = await store.auto_publish_due_drafts(utcnow() + timedelta(seconds=61))
    assert [str(i) for i in published] == [inc["id"]]
    got = (await env.client.get(f"/api/v1/incidents/{inc['id']}", headers=env.read)).json()
    assert got["draft"] is False and got["ttpu_s"] >= 60


async def test_incidents_are_paged_newest_first(env: Env) -> None:
    made = [await create(env, title=f"i{n}") for n in range(3)]
    first = (await env.client.get("/api/v1/incidents?limit=2", headers=env.read)).json()
    assert [i["title"] for i in first["data"]] == ["i2", "i1"]
    rest = await env.client.get(
        "/api/v1/incidents", params={"limit": 2, "cursor": first["next_cursor"]}, headers=env.read
    )
    assert [i["id"] for i in rest.json()["data"]] == [made[0]["id"]]
    assert rest.json()["next_cursor"] is None
    bad = await env.client.get("/api/v1/incidents?cursor=nonsense", headers=env.read)
    assert (bad.status_code, error(bad)["field"]) == (422, "cursor")
    await post(env, f"/api/v1/incidents/{made[1]['id']}/publish", status=200)
    public = (await env.client.get("/api/v1/incidents?drafts=false", headers=env.read)).json()
    assert [i["id"] for i in public["data"]] == [made[1]["id"]]


async def test_another_organisations_incident_is_not_found(wenv: Env) -> None:
    env = wenv
    inc = await create(env)
    path = f"/api/v1/incidents/{inc['id']}"
    assert (await env.client.get(path, headers=env.other)).status_code == 404
    for suffix, body in (
        ("/updates", {"status": "identified", "body": "x"}),
        ("/publish", None),
        ("/resolve", None),
    ):
        response = await env.client.post(path + suffix, json=body, headers=env.other)
        assert (response.status_code, error(response)["code"]) == (404, "not_found")
    assert (await env.client.get("/api/v1/incidents", headers=env.other)).json()["data"] == []
    assert (await env.client.get(path, headers=env.read)).json()["status"] == "investigating"


async def test_a_read_key_cannot_change_incidents(env: Env) -> None:
    response = await env.client.post(
        "/api/v1/incidents", json={"title": "x", "body": "y"}, headers=env.read
    )
    assert response.status_code == 403
    assert (await env.client.post("/api/v1/incidents", json={})).status_code == 401


async def test_every_incident_change_is_audited(env: Env) -> None:
    inc = await create(env)
    path = f"/api/v1/incidents/{inc['id']}"
    await post(env, f"{path}/updates", {"status": "identified", "body": "x", "impact": "major"})
    await post(env, f"{path}/publish", status=200)
    await post(env, f"{path}/resolve", status=200)
    entries = (
        await env.client.get(f"/api/v1/audit?target_id={inc['id']}", headers=env.write)
    ).json()["data"]
    assert [e["action"] for e in entries] == [
        "incident.update",
        "incident.publish",
        "incident.update",
        "incident.create",
    ]
    resolve, publish, update, create_ = entries
    assert (resolve["before"]["status"], resolve["after"]["status"]) == ("identified", "resolved")
    assert (publish["before"]["published_at"], publish["after"]["ttpu_s"] is not None) == (
        None,
        True,
    )
    assert (update["before"]["impact"], update["after"]["impact"]) == ("minor", "major")
    assert create_["before"] is None and create_["after"]["title"] == "API errors"
    assert {e["actor"] for e in entries} == {f"apikey:{_prefix(env.write)}"}


def _prefix(headers: dict[str, str]) -> str:
    prefix = apikeys.prefix_of(headers["Authorization"].removeprefix("Bearer "))
    assert prefix is not None
    return prefix
