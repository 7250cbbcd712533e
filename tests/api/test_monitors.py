"""The monitors API: CRUD, validation naming the field, auth, tenancy, stats."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from statpulse.model import CheckResult, new_id
from tests.api.conftest import Env

MONITOR = {
    "name": "API",
    "kind": "http",
    "target": "http://127.0.0.1:9/health",
    "interval_s": 30,
    "timeout_s": 5,
    "http": {"method": "POST", "headers": {"Authorization": "Bearer t0ken"}, "body": "{}"},
    "conditions": ["[STATUS] == 200", "[BODY].status == UP"],
}


async def create(env: Env, **changes: Any) -> dict[str, Any]:
    response = await env.client.post(
        "/api/v1/monitors", json={**MONITOR, **changes}, headers=env.write
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_create_returns_the_monitor_with_a_uuid7_id(env: Env) -> None:
    body = await create(env)
    assert uuid.UUID(body["id"]).version == 7
    assert body["name"] == "API" and body["status"] == "unknown" and body["paused"] is False
    assert body["regions"] == ["local"]
    assert body["conditions"] == MONITOR["conditions"]


async def test_header_values_are_redacted_in_responses(env: Env) -> None:
    body = await create(env)
    assert body["http"]["headers"] == {"Authorization": "********"}
    got = (await env.client.get(f"/api/v1/monitors/{body['id']}", headers=env.read)).json()
    assert "t0ken" not in str(got)


async def test_get_and_list_return_created_monitors(env: Env) -> None:
    a = await create(env, name="a")
    b = await create(env, name="b")
    assert (await env.client.get(f"/api/v1/monitors/{a['id']}", headers=env.read)).json() == a
    listed = (await env.client.get("/api/v1/monitors", headers=env.read)).json()["data"]
    assert [m["id"] for m in listed] == [a["id"], b["id"]]


async def test_patch_changes_only_the_given_fields(env: Env) -> None:
    m = await create(env)
    response = await env.client.patch(
        f"/api/v1/monitors/{m['id']}",
        json={"interval_s": 60, "http": {"method": "GET"}},
        headers=env.write,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["interval_s"] == 60 and body["http"]["method"] == "GET"
    assert body["http"]["headers"] == {"Authorization": "********"}  # kept, still secret
    stored = await env.services.store.get_monitor(env.org.id, uuid.UUID(m["id"]))
    assert stored is not None and stored.config.http.headers == {"Authorization": "Bearer t0ken"}


async def test_delete_removes_the_monitor(env: Env) -> None:
    m = await create(env)
    url = f"/api/v1/monitors/{m['id']}"
    assert (await env.client.delete(url, headers=env.write)).status_code == 204
    assert (await env.client.get(url, headers=env.read)).status_code == 404
    assert (await env.client.delete(url, headers=env.write)).status_code == 404


async def test_pause_and_resume(env: Env) -> None:
    m = await create(env)
    paused = await env.client.post(f"/api/v1/monitors/{m['id']}/pause", headers=env.write)
    assert paused.json()["status"] == "paused" and paused.json()["paused"] is True
    resumed = await env.client.post(f"/api/v1/monitors/{m['id']}/resume", headers=env.write)
    assert resumed.json()["status"] == "unknown" and resumed.json()["paused"] is False


async def test_every_change_is_audited(env: Env) -> None:
    m = await create(env)
    await env.client.patch(f"/api/v1/monitors/{m['id']}", json={"name": "x"}, headers=env.write)
    await env.client.delete(f"/api/v1/monitors/{m['id']}", headers=env.write)
    entries = await env.services.store.audit_entries(env.org.id, 10)
    assert [e["action"] for e in entries] == ["monitor.delete", "monitor.update", "monitor.create"]
    assert entries[1]["before"]["name"] == "API" and entries[1]["after"]["name"] == "x"
    assert "t0ken" not in str(entries)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"interval_s": 5}, "interval_s"),
        ({"interval_s": "often"}, "interval_s"),
        ({"kind": "ftp"}, "kind"),
        ({"target": "not a url"}, "target"),
        ({"target": "ftp://example.com/"}, "target"),
        ({"kind": "tcp", "target": "example.com"}, "target"),
        ({"timeout_s": 0}, "timeout_s"),
        ({"timeout_s": 100, "interval_s": 30}, "timeout_s"),
        ({"name": ""}, "name"),
        ({"regions": []}, "regions"),
        ({"regions": ["EU West!"]}, "regions[0]"),
        ({"http": {"method": "BREW"}}, "http.method"),
        ({"http": {"headers": {"X-A": "a\r\nInjected: 1"}}}, "http.headers"),
        ({"http": {"surprise": True}}, "http.surprise"),
        ({"conditions": ["[STATUS] == 200", "[STATUS] =="]}, "conditions[1]"),
        ({"failure_threshold": 0}, "failure_threshold"),
        ({"colour": "blue"}, "colour"),
    ],
)
async def test_invalid_input_gets_422_naming_the_field(
    env: Env, changes: dict[str, Any], field: str
) -> None:
    response = await env.client.post(
        "/api/v1/monitors", json={**MONITOR, **changes}, headers=env.write
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert error["field"] == field
    assert field in error["message"]


async def test_invalid_condition_error_gives_the_position(env: Env) -> None:
    response = await env.client.post(
        "/api/v1/monitors", json={**MONITOR, "conditions": ["[STATUS] == 200)"]}, headers=env.write
    )
    assert response.status_code == 422
    assert "position" in response.json()["error"]["message"]


async def test_invalid_patch_is_rejected_and_keeps_the_stored_monitor(env: Env) -> None:
    m = await create(env)
    url = f"/api/v1/monitors/{m['id']}"
    response = await env.client.patch(url, json={"interval_s": 1}, headers=env.write)
    assert response.status_code == 422 and response.json()["error"]["field"] == "interval_s"
    response = await env.client.patch(url, json={"http": {"method": None}}, headers=env.write)
    assert response.status_code == 422 and response.json()["error"]["field"] == "http.method"
    assert (await env.client.get(url, headers=env.read)).json() == m


async def test_malformed_json_gets_422(env: Env) -> None:
    response = await env.client.post(
        "/api/v1/monitors",
        content=b'{"name": ',
        headers={**env.write, "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid"


async def test_unknown_and_malformed_ids(env: Env) -> None:
    unknown = await env.client.get(f"/api/v1/monitors/{new_id()}", headers=env.read)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"
    malformed = await env.client.get("/api/v1/monitors/not-a-uuid", headers=env.read)
    assert malformed.status_code == 422 and malformed.json()["error"]["field"] == "monitor_id"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer nope"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer sp_000000000000_forged"},
    ],
)
async def test_missing_or_invalid_key_gets_401(env: Env, headers: dict[str, str]) -> None:
    response = await env.client.get("/api/v1/monitors", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert response.headers["www-authenticate"] == "Bearer"


async def test_a_key_with_a_changed_secret_is_refused(env: Env) -> None:
    token = env.write["Authorization"].removeprefix("Bearer ")
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    response = await env.client.get(
        "/api/v1/monitors", headers={"Authorization": f"Bearer {forged}"}
    )
    assert response.status_code == 401


async def test_read_key_cannot_write(env: Env) -> None:
    response = await env.client.post("/api/v1/monitors", json=MONITOR, headers=env.read)
    assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"


async def test_other_tenants_monitors_are_not_found(env: Env) -> None:
    m = await create(env)
    url = f"/api/v1/monitors/{m['id']}"
    assert (await env.client.get(url, headers=env.other)).status_code == 404
    assert (await env.client.patch(url, json={"name": "x"}, headers=env.other)).status_code == 404
    assert (await env.client.delete(url, headers=env.other)).status_code == 404
    assert (await env.client.get("/api/v1/monitors", headers=env.other)).json()["data"] == []
    assert (await env.client.get(url, headers=env.read)).json()["name"] == "API"


def _result(monitor_id: uuid.UUID, region: str, at: datetime, ok: bool, ms: float) -> CheckResult:
    return CheckResult(new_id(), monitor_id, region, at, at, ms, ok)


async def test_stats_match_known_data(env: Env) -> None:
    m = await create(env, regions=["eu", "us"])
    mid = uuid.UUID(m["id"])
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    results = [
        _result(mid, "eu", t0 + timedelta(seconds=i), True, float(i + 1)) for i in range(100)
    ]
    results += [_result(mid, "us", t0 + timedelta(seconds=i), i >= 10, 1000.0) for i in range(20)]
    results.append(_result(mid, "eu", t0 + timedelta(days=2), True, 5.0))  # outside the range
    await env.services.store.add_results(results)
    response = await env.client.get(
        f"/api/v1/monitors/{mid}/stats",
        params={"from": "2026-11-01T00:00:00Z", "to": "2026-11-02T00:00:00Z"},
        headers=env.read,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["from"] == "2026-11-01T00:00:00Z" and body["checks"] == 120
    assert body["uptime_pct"] == pytest.approx(110 / 120 * 100)
    eu, us = body["regions"]["eu"], body["regions"]["us"]
    assert (eu["checks"], eu["uptime_pct"]) == (100, 100.0)
    # Percentiles are merged from rollup sketches: within 1 % of the exact ones.
    assert eu["p50_ms"] == pytest.approx(50.5, rel=0.01)
    assert eu["p95_ms"] == pytest.approx(95.05, rel=0.01)
    assert eu["p99_ms"] == pytest.approx(99.01, rel=0.01)
    assert (us["checks"], us["uptime_pct"], us["p99_ms"]) == (20, 50.0, 1000.0)
    # Overall percentiles are over all ok latencies: 100 from eu (1..100) and 10 from us (1000).
    assert body["p50_ms"] == pytest.approx(55.5, rel=0.01)
    # Downtime: one 30 s interval per failed check; overall, the mean over the regions.
    assert (eu["downtime_s"], us["downtime_s"], body["downtime_s"]) == (0, 300, 150)


async def test_stats_read_sub_minute_edges_from_raw_results(env: Env) -> None:
    m = await create(env, regions=["eu"])
    mid = uuid.UUID(m["id"])
    t0 = datetime(2026, 11, 1, 10, 0, 30, tzinfo=UTC)
    # 10:00:30 .. 10:02:30 every 10 s: [10:00:45, 10:02:15) holds the whole minute 10:01 (6
    # checks, from the minute rollup) and ragged edges from raw results: 10:00:50 and 10:02:0x.
    latencies = [float(i + 1) for i in range(13)]
    results = [
        _result(mid, "eu", t0 + timedelta(seconds=10 * i), True, ms)
        for i, ms in enumerate(latencies)
    ]
    await env.services.store.add_results(results)
    response = await env.client.get(
        f"/api/v1/monitors/{mid}/stats",
        params={"from": "2026-11-01T10:00:45Z", "to": "2026-11-01T10:02:15Z"},
        headers=env.read,
    )
    body = response.json()
    assert body["checks"] == 9 and body["uptime_pct"] == 100.0
    assert body["p50_ms"] == pytest.approx(7.0, rel=0.01)  # of 3 .. 11 ms


async def test_stats_of_an_empty_range_have_no_numbers(env: Env) -> None:
    m = await create(env)
    body = (await env.client.get(f"/api/v1/monitors/{m['id']}/stats", headers=env.read)).json()
    assert body["checks"] == 0 and body["uptime_pct"] is None and body["p95_ms"] is None


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-11-02T00:00:00Z", "to": "2026-11-01T00:00:00Z"}, "from"),
        ({"from": "yesterday"}, "from"),
        ({"from": "2020-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "from"),
    ],
)
async def test_stats_reject_bad_ranges(env: Env, params: dict[str, str], field: str) -> None:
    m = await create(env)
    response = await env.client.get(
        f"/api/v1/monitors/{m['id']}/stats", params=params, headers=env.read
    )
    assert response.status_code == 422 and response.json()["error"]["field"] == field


async def test_a_dependency_cycle_or_a_foreign_parent_is_refused_naming_depends_on(
    env: Env,
) -> None:
    body = {"name": "a", "kind": "http", "target": "http://127.0.0.1:9/"}
    a = (await env.client.post("/api/v1/monitors", json=body, headers=env.write)).json()
    b_body = {**body, "name": "b", "depends_on": a["id"]}
    b = await env.client.post("/api/v1/monitors", json=b_body, headers=env.write)
    assert b.status_code == 201 and b.json()["depends_on"] == a["id"]
    cycle = await env.client.patch(
        f"/api/v1/monitors/{a['id']}", json={"depends_on": b.json()["id"]}, headers=env.write
    )
    assert cycle.status_code == 422 and cycle.json()["error"]["field"] == "depends_on"
    foreign = await env.client.post(
        "/api/v1/monitors", json={**body, "depends_on": a["id"]}, headers=env.other
    )
    assert foreign.status_code == 422 and foreign.json()["error"]["field"] == "depends_on"
    cleared = await env.client.patch(
        f"/api/v1/monitors/{b.json()['id']}", json={"depends_on": None}, headers=env.write
    )
    assert cleared.status_code == 200 and cleared.json()["depends_on"] is None
