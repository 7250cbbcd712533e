"""A server with snapshot_url set keeps a static snapshot of its pages up to date."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from pathlib import Path

from statpulse.model import MonitorConfig
from statpulse.settings import Settings
from statpulse.web.app import create_app
from statpulse.web.services import Services


async def test_the_server_publishes_a_snapshot_of_its_pages_and_refreshes_it_on_changes(
    tmp_path: Path,
) -> None:
    out = tmp_path / "snapshots"

    async def seed(services: Services, _stack: AsyncExitStack) -> None:
        store = services.store
        org = await store.create_org("acme", "Acme")
        monitor = await store.create_monitor(
            org.id, MonitorConfig(name="API", kind="http", target="http://127.0.0.1:9/")
        )
        page = await store.create_page(org.id, "acme", "Acme status", "")
        await store.create_component(org.id, "API", "", monitor.id, [page.id])

    settings = Settings(
        db=f"sqlite:///{tmp_path / 'db.sqlite'}",
        data_dir=tmp_path,
        embedded_runner=False,
        snapshot_url=str(out),
        snapshot_pages=["acme"],
    )
    app = create_app(settings, startup_hooks=[seed])
    async with app.router.lifespan_context(app):
        index = out / "acme" / "index.html"
        async with asyncio.timeout(30):
            while not index.exists():
                await asyncio.sleep(0.1)
        html = index.read_text()
        assert "Acme status" in html and "API" in html
        assert (out / "acme" / "api" / "v2" / "summary.json").exists()
