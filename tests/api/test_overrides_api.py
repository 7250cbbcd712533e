"""Component overrides: set, replace, list, clear; validation; scopes; tenancy; audit."""

from __future__ import annotations

from tests.api.conftest import Env
from tests.api.test_incidents_api import error, post, wenv  # noqa: F401


async def test_an_override_is_set_replaced_listed_and_cleared(wenv: Env) -> None:  # noqa: F811
    env = wenv
    cid = (await post(env, "/api/v1/components", {"name": "API"}))["id"]
    url = f"/api/v1/components/{cid}/override"
    first = await env.client.put(
        url, json={"status": "degraded", "reason": "slow"}, headers=env.write
    )
    assert first.status_code == 200
    assert (first.json()["status"], first.json()["reason"]) == ("degraded", "slow")
    await env.client.put(url, json={"status": "maintenance"}, headers=env.write)
    listed = (await env.client.get("/api/v1/overrides", headers=env.read)).json()["data"]
    assert [(o["component_id"], o["status"]) for o in listed] == [(cid, "maintenance")]
    assert (await env.client.delete(url, headers=env.write)).status_code == 204
    assert (await env.client.delete(url, headers=env.write)).status_code == 404
    assert (await env.client.get("/api/v1/overrides", headers=env.read)).json()["data"] == []
    entries = (await env.client.get(f"/api/v1/audit?target_id={cid}", headers=env.write)).json()[
        "data"
    ]
    assert [
        (e["action"], e["before"] and e["before"]["status"], e["after"] and e["after"]["status"])
        for e in entries
        if e["action"].startswith("override")
    ] == [
        ("override.clear", "maintenance", None),
        ("override.set", "degraded", "maintenance"),
        ("override.set", None, "degraded"),
    ]


async def test_an_unknown_override_status_names_the_field(env: Env) -> None:
    cid = (await post(env, "/api/v1/components", {"name": "API"}))["id"]
    response = await env.client.put(
        f"/api/v1/components/{cid}/override", json={"status": "on_fire"}, headers=env.write
    )
    assert (response.status_code, error(response)["field"]) == (422, "status")


async def test_overrides_are_scoped_to_the_organisation_and_need_a_write_key(
    wenv: Env,  # noqa: F811
) -> None:
    env = wenv
    cid = (await post(env, "/api/v1/components", {"name": "API"}))["id"]
    url = f"/api/v1/components/{cid}/override"
    body = {"status": "major_outage"}
    assert (await env.client.put(url, json=body, headers=env.other)).status_code == 404
    assert (await env.client.put(url, json=body, headers=env.read)).status_code == 403
    assert (await env.client.put(url, json=body, headers=env.write)).status_code == 200
    assert (await env.client.delete(url, headers=env.other)).status_code == 404
    assert (await env.client.get("/api/v1/overrides", headers=env.other)).json()["data"] == []
    listed = (await env.client.get("/api/v1/overrides", headers=env.read)).json()["data"]
    assert [o["status"] for o in listed] == ["major_outage"]
