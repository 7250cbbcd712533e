"""Regions in the API: fresh/stale/missing per monitor, runner health, draft incidents."""

from __future__ import annotations

import uuid
from datetime import timedelta

from statpulse.engine.region_watch import RegionWatch
from statpulse.metrics import Metrics
from statpulse.model import CheckResult, MonitorConfig, new_id, utcnow
from statpulse.notify import NOTIFIERS
from statpulse.notify.signing import new_secret
from statpulse.store.sql_runners import RunnerHealth
from tests.api.conftest import Env


async def _monitor(env: Env) -> str:
    created = await env.client.post(
        "/api/v1/monitors",
        headers=env.write,
        json={
            "name": "Checkout",
            "kind": "http",
            "target": "http://127.0.0.1:9/",
            "interval_s": 10,
            "regions": ["eu", "us", "ap"],
            "failure_threshold": 1,
        },
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def test_regions_of_a_monitor_are_fresh_stale_or_missing(env: Env) -> None:
    mid = await _monitor(env)
    now = utcnow()
    monitor_id = uuid.UUID(mid)
    results = [
        CheckResult(new_id(), monitor_id, "eu", now, now, 10.0, False, error_message="refused"),
        CheckResult(
            new_id(),
            monitor_id,
            "us",
            now - timedelta(minutes=5),
            now - timedelta(minutes=5),
            10.0,
            True,
        ),
    ]
    await env.services.ingest.accept(results)
    await env.services.evaluator.process(results)
    got = await env.client.get(f"/api/v1/monitors/{mid}/regions", headers=env.read)
    assert got.status_code == 200
    doc = got.json()
    assert doc["summary"] == "1 of 1 regions failing, 1 stale, 1 missing"
    assert [(r["region"], r["freshness"]) for r in doc["regions"]] == [
        ("eu", "fresh"),
        ("us", "stale"),
        ("ap", "missing"),
    ]
    # The other organisation does not see it.
    other = await env.client.get(f"/api/v1/monitors/{mid}/regions", headers=env.other)
    assert other.status_code == 404
    # It went down (1 of 1 fresh region failing): a draft incident exists, not public.
    incidents = (await env.client.get("/api/v1/incidents", headers=env.read)).json()["data"]
    assert [(i["title"], i["draft"]) for i in incidents] == [
        ("Checkout experiencing problems in some regions", True)
    ]
    assert (await env.client.get("/api/v1/incidents", headers=env.other)).json()["data"] == []


async def test_runner_health_and_silent_regions(env: Env) -> None:
    store = env.services.store
    now = utcnow()
    for region, seen in (("eu", now), ("us", now - timedelta(seconds=60))):
        await store.record_runner_health(  # type: ignore[attr-defined]
            RunnerHealth(region, "ab12", "0.1.0", 1.5, 3, False, 2.0, seen)
        )
    doc = (await env.client.get("/api/v1/regions", headers=env.read)).json()["data"]
    assert [(r["region"], r["healthy"]) for r in doc] == [("eu", True), ("us", False)]
    assert doc[0]["runners"][0]["spool_depth"] == 3

    # The organisation with a monitor in "us" has an operators' channel: it gets one alert.
    config = MonitorConfig(name="api", kind="http", target="http://x/", regions=("us",))
    await store.create_monitor(env.org.id, config)
    hook = NOTIFIERS["webhook"].validate({"url": "http://127.0.0.1:9/", "secret": new_secret()})
    channel = await store.create_channel(env.org.id, "webhook", "ops", hook, ("secret",))

    metrics = Metrics()
    watch = RegionWatch(store, metrics)
    assert await watch.check() == ({"us"}, set())
    assert await watch.check() == (set(), set())  # said once, not every time
    assert b'statpulse_region_healthy{region="us"} 0.0' in metrics.render()
    assert await RegionWatch(store, Metrics()).check() == ({"us"}, set())  # another worker
    rows = await store.outbox_rows(channel.id)
    assert [r["message"]["event"] for r in rows] == ["region.unhealthy"]
    assert rows[0]["message"]["regions"] == ["us"]
