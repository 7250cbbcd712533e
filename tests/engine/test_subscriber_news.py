"""Subscriber news on a real SQLite store through the real outbox dispatcher, with a local
HTTP server standing in for a subscriber's webhook endpoint."""

from __future__ import annotations

import json
import secrets
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web
from standardwebhooks import Webhook

from statpulse.engine.incident_jobs import IncidentJobs
from statpulse.engine.maintenance import MaintenanceWindow, WindowKind
from statpulse.engine.subscriber_news import notify_subscribers
from statpulse.model import Component, Organization, StatusPage, new_id
from statpulse.notify import NOTIFIERS, HttpSender
from statpulse.notify.dispatcher import Dispatcher
from statpulse.security.secrets import Keyring, MasterKey
from statpulse.store.sql import SqlStore, open_store
from statpulse.store.sql_subscribers import Subscriber

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@dataclass
class Endpoint:
    url: str = ""
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append((dict(request.headers), await request.read()))
        return web.json_response({"ok": True})


@dataclass
class World:
    store: SqlStore
    org: Organization
    page: StatusPage
    api: Component
    web: Component
    endpoint: Endpoint

    async def subscriber(
        self, components: tuple[uuid.UUID, ...] = (), *, confirmed: bool = True
    ) -> Subscriber:
        config = NOTIFIERS["webhook"].validate({"url": self.endpoint.url, "secret": SECRET})
        sub = Subscriber(
            id=new_id(),
            org_id=self.org.id,
            page_id=self.page.id,
            channel_id=new_id(),
            kind="webhook",
            address="http://127.0.0.1",
            components=components,
            nonce=secrets.token_hex(16),
            page_url="https://status.acme.test/s/acme",
            unsubscribe_url="https://status.acme.test/s/acme/unsubscribe?token=t0k",
            confirmed_at=NOW if confirmed else None,
            created_at=NOW,
        )
        return await self.store.create_subscriber(
            sub, "webhook", config, NOTIFIERS["webhook"].secret_fields()
        )

    async def deliver(self) -> list[dict[str, object]]:
        """Delivers what is due; the bodies received, each verified per Standard Webhooks."""
        async with HttpSender(timeout=5.0) as http:
            await Dispatcher(self.store, http, NOTIFIERS, clock=lambda: NOW).drain()
        got = [Webhook(SECRET).verify(body, headers) for headers, body in self.endpoint.received]
        self.endpoint.received.clear()
        return [dict(g) for g in got]


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    endpoint = Endpoint()
    app = web.Application()
    app.router.add_post("/hook", endpoint.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    endpoint.url = f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
    await web.SockSite(runner, sock).start()
    store = await open_store(
        f"sqlite:///{tmp_path / 'news.db'}", keyring=Keyring(MasterKey.generate())
    )
    try:
        org = await store.create_org("acme", "Acme")
        page = await store.create_page(org.id, "acme", "Acme", "")
        api = await store.create_component(org.id, "API", "", None, [page.id])
        site = await store.create_component(org.id, "Website", "", None, [page.id])
        yield World(store, org, page, api, site, endpoint)
    finally:
        await store.close()
        await runner.cleanup()


async def test_webhook_subscriber_gets_a_signed_delivery_with_its_unsubscribe_link(
    world: World,
) -> None:
    await world.subscriber()
    incident = await world.store.create_incident(
        world.org.id, "t", "t", title="API errors", body="Looking.", at=NOW, publish=True
    )
    assert await notify_subscribers(world.store, incident, "incident.opened", NOW) == 1
    [payload] = await world.deliver()
    assert payload["type"] == "incident.opened"
    data = payload["data"]
    assert isinstance(data, dict)
    assert data["incident_id"] == str(incident.id)
    assert "unsubscribe?token=t0k" in data["text"]
    assert data["url"] == f"https://status.acme.test/s/acme/incidents/{incident.id}"


async def test_a_replay_queues_nothing_more(world: World) -> None:
    await world.subscriber()
    incident = await world.store.create_incident(
        world.org.id, "t", "t", title="Down", body="Looking.", at=NOW, publish=True
    )
    assert await notify_subscribers(world.store, incident, "incident.opened", NOW) == 1
    assert await notify_subscribers(world.store, incident, "incident.opened", NOW) == 0
    assert len(await world.deliver()) == 1


async def test_drafts_and_unconfirmed_subscribers_get_nothing(world: World) -> None:
    await world.subscriber(confirmed=False)
    draft = await world.store.create_incident(
        world.org.id, "t", "t", title="Draft", body="Hidden.", at=NOW
    )
    assert await notify_subscribers(world.store, draft, "incident.opened", NOW) == 0
    public = await world.store.create_incident(
        world.org.id, "t", "t", title="Public", body="Seen.", at=NOW, publish=True
    )
    assert await notify_subscribers(world.store, public, "incident.opened", NOW) == 0
    assert await world.deliver() == []


async def test_components_select_subscribers(world: World) -> None:
    await world.subscriber((world.web.id,))
    api_only = await world.store.create_incident(
        world.org.id, "t", "t", title="API", body="x", at=NOW, publish=True,
        components=[world.api.id],
    )  # fmt: skip
    assert await notify_subscribers(world.store, api_only, "incident.opened", NOW) == 0
    everything = await world.store.create_incident(
        world.org.id, "t", "t", title="All", body="x", at=NOW, publish=True,
        components=[world.api.id, world.web.id],
    )  # fmt: skip
    assert await notify_subscribers(world.store, everything, "incident.opened", NOW) == 1


async def test_maintenance_start_and_end_reach_subscribers_once(world: World) -> None:
    await world.subscriber((world.api.id,))
    window = MaintenanceWindow(
        kind=WindowKind.ONE_OFF, start=NOW - timedelta(minutes=8), end=NOW - timedelta(minutes=2)
    )
    await world.store.create_maintenance(
        world.org.id, "t", "DB upgrade", "Planned.", window, (world.api.id,), NOW
    )
    jobs = IncidentJobs(world.store, clock=lambda: NOW)
    await jobs.run_once()
    await jobs.run_once()  # overlapping lookbacks: nothing more
    got = await world.deliver()
    assert sorted(str(p["type"]) for p in got) == ["maintenance.ended", "maintenance.started"]
    assert all("unsubscribe?token=t0k" in json.dumps(p) for p in got)
