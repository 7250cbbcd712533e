"""The SLO API: create, list, get, delete, status; validation naming the field; tenancy; audit."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest

from statpulse.model import CheckResult, new_id, utcnow
from tests.api.conftest import Env

# Region "eu": the embedded runner (region "local") never probes it, so only seeded results count.
MONITOR = {"name": "API", "kind": "http", "target": "http://127.0.0.1:9/", "regions": ["eu"]}


async def monitor(env: Env) -> str:
    response = await env.client.post("/api/v1/monitors", json=MONITOR, headers=env.write)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def create(env: Env, **body: Any) -> dict[str, Any]:
    response = await env.client.post("/api/v1/slos", json=body, headers=env.write)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_slos_are_created_listed_fetched_and_deleted(env: Env) -> None:
    mid = await monitor(env)
    a = await create(env, name="up", kind="availability", monitor_id=mid, target_pct=99.9)
    lat = await create(
        env, name="fast", kind="latency", monitor_id=mid, percentile=95, threshold_ms=300
    )
    assert (a["target_pct"], a["percentile"], a["window_days"]) == (99.9, None, 30)
    assert (lat["target_pct"], lat["percentile"], lat["threshold_ms"]) == (95, 95, 300)
    listed = (await env.client.get("/api/v1/slos", headers=env.read)).json()["data"]
    assert [s["id"] for s in listed] == [a["id"], lat["id"]]
    got = await env.client.get(f"/api/v1/slos/{a['id']}", headers=env.read)
    assert got.json() == a
    assert (
        await env.client.delete(f"/api/v1/slos/{a['id']}", headers=env.write)
    ).status_code == 204
    assert (await env.client.get(f"/api/v1/slos/{a['id']}", headers=env.read)).status_code == 404
    entries = await env.services.store.audit_entries(env.org.id, 10)
    actions = [e["action"] for e in entries if e["target_type"] == "slo"]
    assert actions == ["slo.delete", "slo.create", "slo.create"]
    assert entries[0]["before"]["name"] == "up"


async def test_an_slo_on_a_component(env: Env) -> None:
    mid = await monitor(env)
    response = await env.client.post(
        "/api/v1/components", json={"name": "API", "monitor_id": mid}, headers=env.write
    )
    cid = response.json()["id"]
    slo = await create(env, name="up", kind="availability", component_id=cid, target_pct=99.5)
    assert (slo["component_id"], slo["monitor_id"]) == (cid, None)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "availability", "target_pct": 99.9}, "monitor_id"),  # no target at all
        ({"kind": "availability", "target_pct": 99.9, "component_id": "$M"}, "monitor_id"),
        ({"kind": "availability"}, "target_pct"),
        ({"kind": "availability", "target_pct": 100}, "target_pct"),
        ({"kind": "availability", "target_pct": 99.0, "threshold_ms": 5}, "threshold_ms"),
        ({"kind": "latency", "threshold_ms": 300}, "percentile"),
        ({"kind": "latency", "percentile": 90, "threshold_ms": 300}, "percentile"),
        ({"kind": "latency", "percentile": 99}, "threshold_ms"),
        ({"kind": "latency", "percentile": 99, "threshold_ms": 0}, "threshold_ms"),
        ({"kind": "latency", "percentile": 99, "threshold_ms": 9, "target_pct": 99}, "target_pct"),
        ({"kind": "error_rate", "target_pct": 99}, "kind"),
        ({"kind": "availability", "target_pct": 99, "window_days": 0}, "window_days"),
        ({"kind": "availability", "target_pct": 99, "surprise": 1}, "surprise"),
    ],
)
async def test_invalid_slos_name_the_field(env: Env, body: dict[str, Any], field: str) -> None:
    mid = await monitor(env)
    full = {"name": "x", "monitor_id": mid, **body}
    if full.get("component_id") == "$M":
        full["component_id"] = str(uuid.uuid4())
    if field == "monitor_id" and "component_id" not in body:
        del full["monitor_id"]
    response = await env.client.post("/api/v1/slos", json=full, headers=env.write)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field


async def test_targets_of_another_organisation_are_unknown(env: Env) -> None:
    mid = await monitor(env)
    for field in ("monitor_id", "component_id"):
        response = await env.client.post(
            "/api/v1/slos",
            json={"name": "x", "kind": "availability", "target_pct": 99, field: mid},
            headers=env.other,
        )
        assert response.status_code == 422
        assert response.json()["error"]["field"] == field


async def test_other_tenants_cannot_see_or_delete_an_slo(env: Env) -> None:
    slo = await create(
        env, name="up", kind="availability", monitor_id=await monitor(env), target_pct=99
    )
    url = f"/api/v1/slos/{slo['id']}"
    for path in (url, f"{url}/status"):
        assert (await env.client.get(path, headers=env.other)).status_code == 404
    assert (await env.client.delete(url, headers=env.other)).status_code == 404
    assert (await env.client.get("/api/v1/slos", headers=env.other)).json()["data"] == []
    assert (await env.client.delete(url, headers=env.read)).status_code == 403


async def test_status_reports_budget_and_burn_rates(env: Env) -> None:
    mid = await monitor(env)
    now = utcnow()
    # 100 checks in the last hour and a half, 1 failed 10 minutes ago.
    results = [
        CheckResult(new_id(), uuid.UUID(mid), "eu", at, at, 100.0, i != 10)
        for i in range(100)
        for at in [now - timedelta(minutes=i, seconds=30)]
    ]
    await env.services.store.add_results(results)
    slo = await create(env, name="up", kind="availability", monitor_id=mid, target_pct=99.0)
    response = await env.client.get(f"/api/v1/slos/{slo['id']}/status", headers=env.read)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["good"], body["total"], body["status"]) == (99, 100, "at_risk")
    assert body["sli_pct"] == pytest.approx(99.0)
    budget = body["error_budget"]
    assert budget["total_pct"] == pytest.approx(1.0)
    assert budget["consumed_pct"] == pytest.approx(100.0)
    assert budget["total_minutes"] == pytest.approx(432.0)  # 1 % of 30 days
    assert budget["remaining_minutes"] == pytest.approx(0.0, abs=1e-9)
    assert body["burn_rate_1h"] == pytest.approx((1 / 60) / 0.01, rel=0.05)
    assert body["burn_rate_6h"] == pytest.approx(1.0)
    assert set(body) >= {"from", "to", "monitor_id", "target_pct"}
