"""The render cache of ``/s/{slug}`` (``web/public/render_cache.py``): the real app on a temporary
SQLite database for the HTTP behaviour, and the cache alone (a counting render, a fake clock)
for its rules."""

from __future__ import annotations

import asyncio
import gzip
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp

import statpulse.web.app as app_module
from statpulse.bus.live import Broadcaster, MonitorChanged
from statpulse.model import Status
from statpulse.settings import Settings
from statpulse.store.sql import SqlStore
from statpulse.store.write_watch import watch_committed_writes
from statpulse.web.public import routes
from statpulse.web.public.render_cache import RenderCache, etag_matches
from statpulse.web.public.routes import CACHE_CONTROL
from statpulse.web.services import Services
from tests.api import conftest as api
from tests.api.conftest import Env
from tests.web.test_status_incidents import incident, make_page

env = api.env  # the app on a temporary SQLite database (tests/api/conftest.py)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Renders:
    """A render that counts its calls and returns ``b"render N"``; ``gate`` holds it."""

    def __init__(self) -> None:
        self.calls = 0
        self.gate = asyncio.Event()
        self.gate.set()

    async def __call__(self) -> bytes:
        self.calls += 1
        n = self.calls
        await self.gate.wait()
        return f"render {n}".encode()


def changed() -> MonitorChanged:
    return MonitorChanged(uuid.uuid4(), Status.DOWN)


async def test_second_request_is_served_from_the_cache() -> None:
    cache, render = RenderCache(clock=Clock()), Renders()
    first = await cache.get(("acme", None), render)
    second = await cache.get(("acme", None), render)
    assert second is first
    assert render.calls == 1 == cache.renders


async def test_a_monitor_change_invalidates() -> None:
    live, cache, render = Broadcaster(), RenderCache(clock=Clock()), Renders()
    await cache.watch(live)
    try:
        assert (await cache.get("k", render)).body == b"render 1"
        live.publish(changed())
        assert (await cache.get("k", render)).body == b"render 2"
        assert (await cache.get("k", render)).body == b"render 2"
    finally:
        await cache.close()
    assert live.subscriber_count == 0


async def test_a_change_during_a_render_is_not_cached() -> None:
    live, cache, render = Broadcaster(), RenderCache(clock=Clock()), Renders()
    await cache.watch(live)
    render.gate.clear()
    pending = asyncio.ensure_future(cache.get("k", render))
    await asyncio.sleep(0)
    live.publish(changed())  # the render may have read the state before this change
    render.gate.set()
    assert (await pending).body == b"render 1"
    assert (await cache.get("k", render)).body == b"render 2"
    await cache.close()


async def test_ttl_expiry_rerenders() -> None:
    clock = Clock()
    cache, render = RenderCache(ttl_s=5, clock=clock), Renders()
    await cache.get("k", render)
    clock.now += 4.9
    await cache.get("k", render)
    assert render.calls == 1
    clock.now += 0.2
    assert (await cache.get("k", render)).body == b"render 2"


async def test_keys_are_cached_apart() -> None:
    cache, render = RenderCache(clock=Clock()), Renders()
    assert (await cache.get(("acme", None), render)).body == b"render 1"
    assert (await cache.get(("acme", "a-cursor"), render)).body == b"render 2"
    assert (await cache.get(("acme", None), render)).body == b"render 1"
    assert render.calls == 2


async def test_concurrent_misses_render_once() -> None:
    cache, render = RenderCache(clock=Clock()), Renders()
    render.gate.clear()
    waiters = [asyncio.ensure_future(cache.get("k", render)) for _ in range(50)]
    await asyncio.sleep(0)
    render.gate.set()
    entries = await asyncio.gather(*waiters)
    assert {e.body for e in entries} == {b"render 1"}
    assert render.calls == 1


async def test_a_failed_render_is_not_cached_and_reaches_every_waiter() -> None:
    cache, calls = RenderCache(clock=Clock()), 0

    async def failing() -> bytes:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0)
        raise LookupError("no such page")

    results = await asyncio.gather(
        *(cache.get("k", failing) for _ in range(3)), return_exceptions=True
    )
    assert all(isinstance(r, LookupError) for r in results)
    assert calls == 1
    await asyncio.gather(cache.get("k", failing), return_exceptions=True)
    assert calls == 2


def test_etag_comparison_is_weak() -> None:
    assert etag_matches('W/"abc"', 'W/"abc"')
    assert etag_matches('"abc"', 'W/"abc"')
    assert etag_matches('"x", W/"abc"', 'W/"abc"')
    assert etag_matches("*", 'W/"abc"')
    assert not etag_matches('W/"abd"', 'W/"abc"')
    assert not etag_matches(None, 'W/"abc"')


# The route, through the real app ----------------------------------------------------------


def cache_of(env: Env) -> RenderCache:
    transport = env.client._transport
    assert isinstance(transport, httpx.ASGITransport)
    cache: RenderCache = transport.app.state.render_cache  # type: ignore[attr-defined]
    return cache


async def test_the_page_is_cached_with_etag_and_cache_headers(env: Env) -> None:
    await make_page(env)
    first = await env.client.get("/s/acme", headers={"Accept-Encoding": "gzip"})
    assert first.status_code == 200
    assert first.headers["cache-control"] == CACHE_CONTROL
    assert first.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in first.headers["vary"].lower()
    assert "frame-ancestors 'none'" in first.headers["content-security-policy"]
    assert first.headers["x-content-type-options"] == "nosniff"
    etag = first.headers["etag"]
    assert etag.startswith('W/"')
    plain = await env.client.get("/s/acme", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.headers["etag"] == etag
    assert plain.content == first.content  # httpx decoded the gzip one
    assert cache_of(env).renders == 1


async def test_if_none_match_gets_a_304(env: Env) -> None:
    await make_page(env)
    etag = (await env.client.get("/s/acme")).headers["etag"]
    again = await env.client.get("/s/acme", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert again.headers["cache-control"] == CACHE_CONTROL
    stale = await env.client.get("/s/acme", headers={"If-None-Match": 'W/"other"'})
    assert stale.status_code == 200


async def test_a_monitor_change_shows_on_the_next_request(env: Env) -> None:
    page = await make_page(env)
    await env.client.get("/s/acme")
    await env.client.get("/s/acme")
    assert cache_of(env).renders == 1
    env.services.live.publish(MonitorChanged(page.monitor, Status.DOWN))
    await env.client.get("/s/acme")
    assert cache_of(env).renders == 2


async def test_a_published_incident_shows_on_the_next_request(env: Env) -> None:
    page = await make_page(env)
    assert "Database trouble" not in (await env.client.get("/s/acme")).text
    await incident(env, "Database trouble", (page.api,))
    assert "Database trouble" in (await env.client.get("/s/acme")).text


async def test_history_pages_are_cached_apart_and_errors_are_not_cached(env: Env) -> None:
    page = await make_page(env)
    older = await incident(env, "Old outage", (page.api,))
    first = await env.client.get("/s/acme")
    paged = await env.client.get(f"/s/acme?before={older.id}")
    assert paged.status_code == 200
    assert paged.headers["etag"] != first.headers["etag"]
    assert (await env.client.get("/s/acme?before=nope")).status_code == 422
    assert (await env.client.get(f"/s/acme?before={uuid.uuid4()}")).status_code == 404
    assert (await env.client.get("/s/nobody")).status_code == 404


def test_gzip_body_is_the_page() -> None:
    from statpulse.web.public.render_cache import rendered

    entry = rendered(b"<p>hello</p>" * 100)
    assert gzip.decompress(entry.gzipped) == entry.body
    assert rendered(entry.body).etag == entry.etag


# CachedPages: hits answered before FastAPI's routing ---------------------------------------


@dataclass
class FastEnv:
    client: httpx.AsyncClient
    reached: list[int]


@pytest.fixture
async def fast(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FastEnv]:
    """The app with ``CachedPages`` innermost (inside GZipMiddleware, as ``web/app.py`` would
    add it), and a count of the requests that reached the route."""

    class GZipOverCachedPages(GZipMiddleware):
        def __init__(self, app: ASGIApp, **options: Any) -> None:
            super().__init__(routes.CachedPages(app), **options)

    monkeypatch.setattr(app_module, "GZipMiddleware", GZipOverCachedPages)
    reached = [0]
    original = routes._render_cache

    async def counting(request: Any, svc: Any) -> RenderCache:
        reached[0] += 1
        return await original(request, svc)

    monkeypatch.setattr(routes, "_render_cache", counting)
    app = app_module.create_app(Settings(db=f"sqlite:///{tmp_path / 'f.db'}", data_dir=tmp_path))
    async with app.router.lifespan_context(app):
        services: Services = app.state.services
        store = services.store
        org = await store.create_org("acme", "Acme")
        page = await store.create_page(org.id, "acme", "Acme", "")
        await store.create_component(org.id, "Website", "", None, [page.id])
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield FastEnv(client, reached)


async def test_cached_pages_answers_a_hit_without_the_route(fast: FastEnv) -> None:
    first = await fast.client.get("/s/acme", headers={"Accept-Encoding": "gzip"})
    second = await fast.client.get("/s/acme", headers={"Accept-Encoding": "gzip"})
    assert fast.reached[0] == 1
    assert second.status_code == 200
    assert second.content == first.content
    for name in ("etag", "cache-control", "content-security-policy", "vary", "content-encoding"):
        assert second.headers[name] == first.headers[name]
    assert second.headers["content-type"] == "text/html; charset=utf-8"
    assert second.headers["x-content-type-options"] == "nosniff"  # still inside RequestContext
    assert "x-request-id" in second.headers
    again = await fast.client.get("/s/acme", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert fast.reached[0] == 1


async def test_cached_pages_leaves_other_queries_and_paths_to_the_app(fast: FastEnv) -> None:
    await fast.client.get("/s/acme")
    assert (await fast.client.get("/s/acme?before=nope")).status_code == 422
    assert (await fast.client.get("/s/acme?x=1")).status_code == 200
    assert (await fast.client.get("/s/acme/events/nothing")).status_code == 404
    assert fast.reached[0] == 3


async def test_every_watch_of_one_engine_sees_a_committed_write(sqlite_store: SqlStore) -> None:
    # Two watches (the page cache and the live settings, say) on one engine: the first to see
    # the commit must not hide it from the second.
    seen: list[str] = []
    engine = sqlite_store.engine.sync_engine
    stops = [
        watch_committed_writes(engine, frozenset({"status_pages"}), lambda: seen.append("a")),
        watch_committed_writes(engine, frozenset({"status_pages"}), lambda: seen.append("b")),
        watch_committed_writes(engine, frozenset({"monitors"}), lambda: seen.append("c")),
    ]
    try:
        org = await sqlite_store.create_org("acme", "Acme")
        await sqlite_store.create_page(org.id, "acme", "Acme", "")
        assert sorted(seen) == ["a", "b"]
    finally:
        for stop in stops:
            stop()
