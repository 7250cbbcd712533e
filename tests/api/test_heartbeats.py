"""Heartbeat (push) monitors through the HTTP API: push URLs, pings, silence, rotation, tenancy.

The app runs with an injected clock shared by the evaluator and the heartbeat sweeper, so
silence is simulated by moving the clock and sweeping, never by sleeping.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from statpulse.engine.assignments import StoreAssignments
from statpulse.model import CheckResult, Scope, utcnow
from statpulse.settings import Settings
from statpulse.web.app import create_app
from statpulse.web.services import Services
from tests.api.conftest import Env, _key

HEARTBEAT = {"name": "nightly backup", "kind": "heartbeat", "interval_s": 60, "grace_s": 60}


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def env(tmp_path: Path, clock: Clock) -> AsyncIterator[Env]:
    settings = Settings(db=f"sqlite:///{tmp_path / 'api.db'}", data_dir=tmp_path)
    app = create_app(settings, clock=clock)
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


async def create(env: Env, **changes: Any) -> dict[str, Any]:
    response = await env.client.post(
        "/api/v1/monitors", json={**HEARTBEAT, **changes}, headers=env.write
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def status_becomes(env: Env, monitor_id: str, expected: str) -> None:
    """Wait (briefly) until the evaluator has given the monitor ``expected`` status."""
    async with asyncio.timeout(3):
        while True:
            got = await env.services.store.get_monitor(env.org.id, uuid.UUID(monitor_id))
            if got is not None and got.status.value == expected:
                return
            await asyncio.sleep(0.01)


async def results(env: Env, monitor_id: str) -> list[CheckResult]:
    """Stored results, oldest first."""
    return list(reversed(await env.services.store.recent_results(uuid.UUID(monitor_id), 100)))


async def test_creating_a_heartbeat_monitor_returns_its_push_url(env: Env) -> None:
    m = await create(env, regions=["eu", "us"])
    assert re.fullmatch(r"/ping/[A-Za-z0-9_-]{32}", m["push_url"])
    assert (m["kind"], m["target"], m["regions"], m["grace_s"]) == ("heartbeat", "", ["push"], 60)
    got = (await env.client.get(f"/api/v1/monitors/{m['id']}", headers=env.read)).json()
    assert got["push_url"] == m["push_url"]
    listed = (await env.client.get("/api/v1/monitors", headers=env.read)).json()["data"]
    assert [x["push_url"] for x in listed] == [m["push_url"]]


async def test_other_kinds_have_no_push_url(env: Env) -> None:
    response = await env.client.post(
        "/api/v1/monitors",
        json={"name": "api", "kind": "http", "target": "http://127.0.0.1:9/"},
        headers=env.write,
    )
    assert response.status_code == 201 and response.json()["push_url"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**HEARTBEAT, "target": "http://example.com/"}, "target"),
        ({**HEARTBEAT, "conditions": ["[STATUS] == 200"]}, "conditions"),
        ({**HEARTBEAT, "interval_s": 5}, "interval_s"),
        ({"name": "api", "kind": "http", "target": ""}, "target"),
        ({"name": "api", "kind": "tcp"}, "target"),
        ({"name": "api", "kind": "http", "target": "http://x/", "regions": ["push"]}, "regions"),
        ({"name": "api", "kind": "cron", "target": "x"}, "kind"),
    ],
)
async def test_invalid_configs_name_the_field(env: Env, body: dict[str, Any], field: str) -> None:
    response = await env.client.post("/api/v1/monitors", json=body, headers=env.write)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field


async def test_a_success_ping_turns_the_monitor_up(env: Env) -> None:
    m = await create(env)
    response = await env.client.get(m["push_url"])
    assert (response.status_code, response.text) == (200, "OK")
    await status_becomes(env, m["id"], "up")
    [result] = await results(env, m["id"])
    assert (result.region, result.ok, result.latency_ms) == ("push", True, None)


@pytest.mark.parametrize("method", ["POST", "HEAD"])
async def test_post_and_head_pings_count_too(env: Env, method: str) -> None:
    m = await create(env)
    response = await env.client.request(method, m["push_url"])
    assert response.status_code == 200
    await status_becomes(env, m["id"], "up")


async def test_fail_pings_turn_it_down_after_the_failure_threshold(env: Env, clock: Clock) -> None:
    m = await create(env, failure_threshold=2)
    await env.client.get(m["push_url"])
    await status_becomes(env, m["id"], "up")
    clock.advance(1)
    response = await env.client.post(f"{m['push_url']}/fail", content=b"disk full\n")
    assert (response.status_code, response.text) == (200, "OK")
    clock.advance(1)
    await env.client.post(f"{m['push_url']}/fail", content=b"x" * 50_000)
    await status_becomes(env, m["id"], "down")
    messages = [r.error_message for r in await results(env, m["id"])]
    assert messages[:2] == [None, "disk full"]
    assert messages[2] is not None and 100 < len(messages[2]) <= 1000


async def test_exit_status_pings(env: Env, clock: Clock) -> None:
    m = await create(env, failure_threshold=1)
    url = m["push_url"]
    assert (await env.client.get(f"{url}/0")).status_code == 200
    await status_becomes(env, m["id"], "up")
    clock.advance(1)  # results of one region are ordered by time; equal times are replays
    assert (await env.client.post(f"{url}/3", content=b"tar failed")).status_code == 200
    await status_becomes(env, m["id"], "down")
    assert (await env.client.get(f"{url}/256")).status_code == 400
    assert (await env.client.get(f"{url}/abc")).status_code == 404
    assert [r.error_message for r in await results(env, m["id"])] == [
        None,
        "exit status 3: tar failed",
    ]


async def test_unknown_tokens_get_404(env: Env) -> None:
    m = await create(env)
    wrong = "/ping/" + "A" * 32
    for path in (wrong, f"{wrong}/start", f"{wrong}/fail", f"{wrong}/0", "/ping/x%20y"):
        assert (await env.client.get(path)).status_code == 404, path
    assert await results(env, m["id"]) == []


async def test_silence_past_interval_and_grace_writes_one_failure_per_period(
    env: Env, clock: Clock
) -> None:
    m = await create(env, failure_threshold=1)
    await env.client.get(m["push_url"])
    await status_becomes(env, m["id"], "up")
    sweep = env.services.heartbeats.sweep
    clock.advance(119)
    await sweep()
    assert len(await results(env, m["id"])) == 1
    clock.advance(1)
    for _ in range(3):
        await sweep()  # sweeping again within the period writes nothing more
    await status_becomes(env, m["id"], "down")
    found = await results(env, m["id"])
    assert [r.ok for r in found] == [True, False]
    assert found[1].error_message == "no ping for 2m (expected every 1m, grace 1m)"
    clock.advance(59)
    await sweep()
    assert len(await results(env, m["id"])) == 2
    clock.advance(1)
    await sweep()
    clock.advance(3600)  # a long silence still writes one failure per sweep, not a backlog
    await sweep()
    assert [r.ok for r in await results(env, m["id"])] == [True, False, False, False]
    clock.advance(1)
    await env.client.get(m["push_url"])
    await status_becomes(env, m["id"], "up")


async def test_a_start_without_completion_fails_after_the_grace(env: Env, clock: Clock) -> None:
    m = await create(env, failure_threshold=1, grace_s=300)
    await env.client.get(m["push_url"])
    clock.advance(1)
    await env.client.get(f"{m['push_url']}/start")
    clock.advance(301)
    await env.services.heartbeats.sweep()
    await status_becomes(env, m["id"], "down")
    last = (await results(env, m["id"]))[-1]
    assert last.error_message == "started 5m 1s ago, no completion ping"
    # the silence rule comes later: last ping + interval + grace = 1 + 60 + 300 s
    assert len(await results(env, m["id"])) == 2


async def test_a_success_after_start_records_the_run_duration(env: Env, clock: Clock) -> None:
    m = await create(env)
    await env.client.get(f"{m['push_url']}/start")
    clock.advance(42)
    await env.client.get(m["push_url"])
    [result] = await results(env, m["id"])
    assert result.ok and result.latency_ms == 42_000


async def test_rotating_the_token_retires_the_old_url(env: Env) -> None:
    m = await create(env)
    url = f"/api/v1/monitors/{m['id']}/push-token"
    assert (await env.client.post(url, headers=env.read)).status_code == 403
    assert (await env.client.post(url, headers=env.other)).status_code == 404
    response = await env.client.post(url, headers=env.write)
    assert response.status_code == 200, response.text
    new_url = response.json()["push_url"]
    assert new_url != m["push_url"]
    assert (await env.client.get(m["push_url"])).status_code == 404
    assert (await env.client.get(new_url)).status_code == 200
    got = (await env.client.get(f"/api/v1/monitors/{m['id']}", headers=env.read)).json()
    assert got["push_url"] == new_url


async def test_only_heartbeat_monitors_have_a_token_to_rotate(env: Env) -> None:
    response = await env.client.post(
        "/api/v1/monitors",
        json={"name": "api", "kind": "http", "target": "http://127.0.0.1:9/"},
        headers=env.write,
    )
    rotate = await env.client.post(
        f"/api/v1/monitors/{response.json()['id']}/push-token", headers=env.write
    )
    assert rotate.status_code == 409 and rotate.json()["error"]["field"] == "kind"


async def test_other_tenants_cannot_see_the_token(env: Env) -> None:
    m = await create(env)
    token = m["push_url"].rsplit("/", 1)[1]
    other = await env.client.get(f"/api/v1/monitors/{m['id']}", headers=env.other)
    assert other.status_code == 404 and token not in other.text
    listed = await env.client.get("/api/v1/monitors", headers=env.other)
    assert listed.json()["data"] == [] and token not in listed.text


async def test_a_paused_monitor_accepts_pings_but_records_nothing(env: Env, clock: Clock) -> None:
    m = await create(env, failure_threshold=1)
    await env.client.post(f"/api/v1/monitors/{m['id']}/pause", headers=env.write)
    assert (await env.client.get(f"{m['push_url']}/fail")).text == "OK"
    clock.advance(3600)
    await env.services.heartbeats.sweep()
    assert await results(env, m["id"]) == []
    await env.client.post(f"/api/v1/monitors/{m['id']}/resume", headers=env.write)
    clock.advance(119)  # silence counts from the resume
    await env.services.heartbeats.sweep()
    assert await results(env, m["id"]) == []
    clock.advance(1)
    await env.services.heartbeats.sweep()
    assert [r.ok for r in await results(env, m["id"])] == [False]


async def test_heartbeat_monitors_are_never_runner_assignments(env: Env) -> None:
    await create(env)
    http = await env.client.post(
        "/api/v1/monitors",
        json={"name": "api", "kind": "http", "target": "http://127.0.0.1:9/"},
        headers=env.write,
    )
    store = env.services.store
    assert await StoreAssignments(store, "push").fetch() == []
    local = await StoreAssignments(store, "local").fetch()
    assert [str(s.monitor_id) for s in local] == [http.json()["id"]]


async def test_pings_count_in_uptime_stats(env: Env) -> None:
    m = await create(env, failure_threshold=1)
    await env.client.get(f"{m['push_url']}/0")
    await env.client.get(f"{m['push_url']}/1")
    response = await env.client.get(f"/api/v1/monitors/{m['id']}/stats", headers=env.read)
    stats = response.json()
    assert (stats["checks"], stats["uptime_pct"]) == (2, 50.0)
    assert set(stats["regions"]) == {"push"}


async def test_patching_a_heartbeat_monitor_keeps_its_url_and_region(env: Env) -> None:
    m = await create(env)
    response = await env.client.patch(
        f"/api/v1/monitors/{m['id']}",
        json={"interval_s": 300, "regions": ["eu"]},
        headers=env.write,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["interval_s"], body["regions"], body["push_url"]) == (300, ["push"], m["push_url"])


async def test_changing_the_kind_to_and_from_heartbeat(env: Env) -> None:
    created = await env.client.post(
        "/api/v1/monitors",
        json={"name": "job", "kind": "http", "target": "http://127.0.0.1:9/"},
        headers=env.write,
    )
    url = f"/api/v1/monitors/{created.json()['id']}"
    patched = await env.client.patch(
        url, json={"kind": "heartbeat", "target": ""}, headers=env.write
    )
    assert patched.status_code == 200, patched.text
    push_url = patched.json()["push_url"]
    assert push_url and patched.json()["regions"] == ["push"]
    back = await env.client.patch(
        url, json={"kind": "http", "target": "http://127.0.0.1:9/"}, headers=env.write
    )
    assert back.status_code == 422 and back.json()["error"]["field"] == "regions"
    back = await env.client.patch(
        url,
        json={"kind": "http", "target": "http://127.0.0.1:9/", "regions": ["local"]},
        headers=env.write,
    )
    assert back.status_code == 200 and back.json()["push_url"] is None
    assert (await env.client.get(push_url)).status_code == 404
