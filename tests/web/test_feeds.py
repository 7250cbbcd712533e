"""RSS and Atom feeds of a status page (real app, real SQLite store): published incidents with
their latest update, never drafts nor other pages' incidents, maintenances, escaping, caching
(ETag, 304), content types and the 404; plus the pure per-occurrence maintenance ids."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from statpulse.engine.incidents import IncidentState
from statpulse.engine.maintenance import MaintenanceWindow, WindowKind
from statpulse.model import Organization, Scope, utcnow
from statpulse.security import apikeys
from statpulse.settings import Settings
from statpulse.store.sql_incidents import Incident
from statpulse.store.sql_maintenance import Maintenance
from statpulse.web.app import create_app
from statpulse.web.public import feeds
from statpulse.web.services import Services

ATOM = "{http://www.w3.org/2005/Atom}"
MONITOR = {"name": "API", "kind": "http", "target": "http://127.0.0.1:9/", "interval_s": 60}


def include(app: FastAPI, router: APIRouter) -> None:
    """Add ``router`` unless app.py already does (the lead wires it in)."""
    paths = {getattr(r, "path", None) for r in app.routes}
    if not any(getattr(r, "path", None) in paths for r in router.routes):
        app.include_router(router)


@dataclass
class Env:
    client: httpx.AsyncClient
    services: Services
    org: Organization
    write: dict[str, str]
    monitor: uuid.UUID
    component: uuid.UUID
    other_monitor: uuid.UUID
    other_component: uuid.UUID  # a component of the organisation that is not on the page


@asynccontextmanager
async def app_env(tmp_path: Path, *routers: APIRouter) -> AsyncIterator[Env]:
    """The app on a temporary SQLite database with ``routers`` included, an organisation, a
    page "acme" with one component (with a monitor), and a component (with a monitor) that is
    on no page."""
    app = create_app(Settings(db=f"sqlite:///{tmp_path / 'public.db'}", data_dir=tmp_path))
    for router in routers:
        include(app, router)
    async with app.router.lifespan_context(app):
        services: Services = app.state.services
        org = await services.store.create_org("acme", "Acme")
        key = apikeys.generate()
        await services.store.create_api_key(org.id, "t", Scope.WRITE, key.prefix, key.secret_hash)
        write = {"Authorization": f"Bearer {key.token}"}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:

            async def post(path: str, body: dict[str, object]) -> str:
                response = await client.post(path, json=body, headers=write)
                assert response.status_code == 201, response.text
                return str(response.json()["id"])

            await post("/api/v1/pages", {"slug": "acme", "title": "Acme"})
            monitor = await post("/api/v1/monitors", MONITOR)
            component = await post(
                "/api/v1/components", {"name": "API", "monitor_id": monitor, "pages": ["acme"]}
            )
            other_monitor = await post("/api/v1/monitors", {**MONITOR, "name": "Billing"})
            other = await post(
                "/api/v1/components", {"name": "Billing", "monitor_id": other_monitor}
            )
            yield Env(
                client,
                services,
                org,
                write,
                uuid.UUID(monitor),
                uuid.UUID(component),
                uuid.UUID(other_monitor),
                uuid.UUID(other),
            )


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    async with app_env(tmp_path, feeds.router) as started:
        yield started


async def incident(
    env: Env,
    title: str,
    components: Sequence[uuid.UUID] = (),
    *,
    monitor_id: uuid.UUID | None = None,
    publish: bool = True,
) -> Incident:
    return await env.services.store.create_incident(
        env.org.id,
        "test",
        "Ops",
        title=title,
        body="Looking into it",
        at=utcnow(),
        components=components,
        monitor_id=monitor_id,
        publish=publish,
    )


async def rss_items(env: Env) -> dict[str, ET.Element]:
    response = await env.client.get("/s/acme/feed.rss")
    assert response.status_code == 200, response.text
    channel = ET.fromstring(response.content).find("channel")
    assert channel is not None
    return {i.findtext("title", ""): i for i in channel.findall("item")}


async def atom_entries(env: Env) -> dict[str, ET.Element]:
    response = await env.client.get("/s/acme/feed.atom")
    assert response.status_code == 200, response.text
    root = ET.fromstring(response.content)
    assert root.tag == f"{ATOM}feed"
    return {e.findtext(f"{ATOM}title", ""): e for e in root.findall(f"{ATOM}entry")}


async def test_feeds_list_published_incident_with_latest_update_but_no_draft(env: Env) -> None:
    published = await incident(env, "Elevated errors", [env.component])
    await env.services.store.add_incident_update(
        env.org.id,
        published.id,
        "test",
        "Ops",
        status=IncidentState.IDENTIFIED,
        body="A bad deploy; rolling back",
        at=utcnow(),
    )
    await incident(env, "Secret draft", [env.component], publish=False)

    items = await rss_items(env)
    assert set(items) == {"Elevated errors"}
    item = items["Elevated errors"]
    assert item.findtext("description") == "Identified: A bad deploy; rolling back"
    assert item.findtext("guid") == published.id.urn
    assert item.findtext("link") == f"http://testserver/s/acme/incidents/{published.id}"
    assert item.findtext("pubDate", "").endswith(" GMT")

    entries = await atom_entries(env)
    assert set(entries) == {"Elevated errors"}
    entry = entries["Elevated errors"]
    assert entry.findtext(f"{ATOM}id") == published.id.urn
    assert entry.findtext(f"{ATOM}content") == "Identified: A bad deploy; rolling back"
    assert datetime.fromisoformat(entry.findtext(f"{ATOM}updated", "")).tzinfo is not None


async def test_feed_holds_incidents_of_page_components_or_their_monitors_only(env: Env) -> None:
    await incident(env, "By component", [env.component])
    await incident(env, "By monitor", monitor_id=env.monitor)
    await incident(env, "Organisation-wide")
    await incident(env, "Other component", [env.other_component])
    await incident(env, "Other monitor", monitor_id=env.other_monitor)
    expected = {"By component", "By monitor", "Organisation-wide"}
    assert set(await rss_items(env)) == expected
    assert set(await atom_entries(env)) == expected


async def test_feed_lists_maintenance_of_the_page_with_its_next_window(env: Env) -> None:
    tomorrow = datetime.combine(utcnow().date() + timedelta(days=1), time(2), UTC)
    window = MaintenanceWindow(
        WindowKind.ONE_OFF, start=tomorrow, end=tomorrow + timedelta(hours=2)
    )
    store = env.services.store
    await store.create_maintenance(
        env.org.id, "t", "DB upgrade", "Expect *brief* errors", window, (env.component,), utcnow()
    )
    await store.create_maintenance(
        env.org.id, "t", "Billing move", "", window, (env.other_component,), utcnow()
    )
    start = tomorrow.strftime("%Y-%m-%d %H:%M UTC")

    items = await rss_items(env)
    assert set(items) == {"DB upgrade"}
    description = items["DB upgrade"].findtext("description", "")
    assert description.startswith(f"Scheduled: {start} to ")
    assert "Expect *brief* errors" in description
    assert items["DB upgrade"].findtext("category") == "maintenance"

    entries = await atom_entries(env)
    assert set(entries) == {"DB upgrade"}
    assert entries["DB upgrade"].findtext(f"{ATOM}content", "").startswith(f"Scheduled: {start}")


async def test_feeds_escape_markup_and_drop_characters_xml_forbids(env: Env) -> None:
    title = "<script>alert(1)</script> & co\x07"
    await incident(env, title, [env.component])
    rss = await env.client.get("/s/acme/feed.rss")
    atom = await env.client.get("/s/acme/feed.atom")
    for body in (rss.content, atom.content):
        assert b"<script>" not in body
    clean = "<script>alert(1)</script> & co"
    assert set(await rss_items(env)) == {clean}
    assert set(await atom_entries(env)) == {clean}
    # RSS readers render <description> as HTML: the text arrives there HTML-escaped.
    await env.services.store.create_incident(
        env.org.id, "t", "Ops", title="x", body="<img src=x>", at=utcnow(), publish=True
    )
    assert (await rss_items(env))["x"].findtext("description") == "Investigating: &lt;img src=x&gt;"
    assert (await atom_entries(env))["x"].findtext(f"{ATOM}content") == "Investigating: <img src=x>"


async def test_feeds_have_their_content_types_and_cache_headers(env: Env) -> None:
    for path, media_type in (
        ("/s/acme/feed.rss", "application/rss+xml; charset=utf-8"),
        ("/s/acme/feed.atom", "application/atom+xml; charset=utf-8"),
    ):
        response = await env.client.get(path)
        assert response.headers["content-type"] == media_type
        assert response.headers["cache-control"] == (
            "public, max-age=60, stale-while-revalidate=60, stale-if-error=86400"
        )
        assert response.content.startswith(b"<?xml")


async def test_feed_revalidates_to_304_until_an_incident_changes_it(env: Env) -> None:
    await incident(env, "Elevated errors", [env.component])
    first = await env.client.get("/s/acme/feed.atom")
    etag = first.headers["etag"]
    again = await env.client.get("/s/acme/feed.atom", headers={"If-None-Match": f"W/{etag}"})
    assert again.status_code == 304 and again.headers["etag"] == etag and not again.content
    await incident(env, "Another", [env.component])
    changed = await env.client.get("/s/acme/feed.atom", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag


async def test_unknown_page_feeds_are_404(env: Env) -> None:
    for path in ("/s/nope/feed.rss", "/s/nope/feed.atom"):
        response = await env.client.get(path)
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_each_occurrence_of_a_recurring_maintenance_is_its_own_entry() -> None:
    created = datetime(2024, 1, 1, tzinfo=UTC)
    weekly = MaintenanceWindow(
        WindowKind.WEEKLY, weekdays=(6,), start_time=time(2), duration_s=7200
    )
    m = Maintenance(uuid.uuid4(), uuid.uuid4(), "Patching", "", weekly, (), created, created)
    sunday = datetime(2024, 5, 5, 2, 30, tzinfo=UTC)  # inside Sunday's window
    during = feeds.maintenance_entry(m, "http://x/s/a", sunday)
    after = feeds.maintenance_entry(m, "http://x/s/a", sunday + timedelta(hours=2))
    same = feeds.maintenance_entry(m, "http://x/s/a", sunday + timedelta(minutes=5))
    assert during is not None and after is not None and same is not None
    assert during.text.startswith("In progress: 2024-05-05 02:00 UTC to 2024-05-05 04:00 UTC")
    assert after.text.startswith("Scheduled: 2024-05-12 02:00 UTC")
    assert during.id == same.id != after.id
    assert during.updated == datetime(2024, 5, 5, 2, tzinfo=UTC)
