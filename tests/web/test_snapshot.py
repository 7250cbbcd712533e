"""The static snapshot of a status page (``statpulse export-static`` and the publisher): the real
app on a real SQLite database, written to real directories and to moto's S3 server."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pyarrow.fs as pafs
import pytest
from fastapi import FastAPI
from moto.server import ThreadedMotoServer
from typer.testing import CliRunner

from statpulse.bus.live import Broadcaster, MonitorChanged
from statpulse.cli import app as cli_app
from statpulse.engine.incidents import Impact, IncidentState
from statpulse.model import Organization, Scope, Status, utcnow
from statpulse.security import apikeys
from statpulse.settings import Settings
from statpulse.store.contract import Store
from statpulse.web.app import create_app
from statpulse.web.public.data import HISTORY_PAGE
from statpulse.web.public.snapshot import (
    DOCUMENTS,
    MARKER,
    ORIGIN,
    Snapshot,
    SnapshotError,
    SnapshotPublisher,
    SnapshotTarget,
    TargetInUse,
    UnknownPage,
    rewrite_html,
    take_snapshot,
)

BASE = "https://status.example.com/acme"
KEY, SECRET = "AKIDSNAPSHOTTEST", "snapshot-test-secret"


@dataclass
class Site:
    app: FastAPI
    store: Store
    client: httpx.AsyncClient  # asks the app at ORIGIN, as the exporter does
    db: str
    components: list[uuid.UUID]
    published: uuid.UUID
    draft: uuid.UUID


async def _post(client: httpx.AsyncClient, path: str, body: dict[str, Any], key: str) -> str:
    response = await client.post(path, json=body, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 201, response.text
    found: str = response.json()["id"]
    return found


async def _seed(
    app: FastAPI, client: httpx.AsyncClient, store: Store, org: Organization, db: str
) -> Site:
    key = apikeys.generate()
    await store.create_api_key(org.id, "test", Scope.WRITE, key.prefix, key.secret_hash)
    monitor = await _post(
        client,
        "/api/v1/monitors",
        {"name": "API", "kind": "http", "target": "http://127.0.0.1:9/"},
        key.token,
    )
    await _post(client, "/api/v1/pages", {"slug": "acme", "title": "Acme"}, key.token)
    api = await _post(
        client,
        "/api/v1/components",
        {"name": "Public API", "monitor_id": monitor, "pages": ["acme"]},
        key.token,
    )
    web = await _post(
        client, "/api/v1/components", {"name": "Website", "pages": ["acme"]}, key.token
    )
    ids = [uuid.UUID(api), uuid.UUID(web)]
    made = []
    for title, publish in (("Checkout errors", True), ("Secret draft", False)):
        incident = await store.create_incident(
            org.id,
            "test",
            "Ops",
            title=title,
            body=f"{title}: investigating",
            at=utcnow(),
            impact=Impact.MAJOR,
            components=ids[:1],
            publish=publish,
        )
        made.append(incident.id)
    return Site(app, store, client, db, ids, made[0], made[1])


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    db = f"sqlite:///{tmp_path / 'snap.db'}"
    app = create_app(Settings(db=db, data_dir=tmp_path, embedded_runner=False))
    async with app.router.lifespan_context(app):
        store: Store = app.state.services.store
        org = await store.create_org("acme", "Acme")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as client:
            yield await _seed(app, client, store, org, db)


async def snap(site: Site, slug: str = "acme") -> Snapshot:
    return await take_snapshot(site.client, site.store, slug, base_url=BASE)


async def test_snapshot_holds_the_page_its_incident_assets_feeds_json_and_badges(
    site: Site,
) -> None:
    files = (await snap(site)).files
    expected = {
        "index.html",
        f"incidents/{site.published}/index.html",
        "static/status.css",
        "static/live.js",
        "static/favicon.svg",
        *DOCUMENTS,
        *(f"components/{c}/badge/{k}.svg" for c in site.components for k in ("uptime", "response")),
    }
    assert expected <= set(files)
    for path in DOCUMENTS:
        if path.endswith(".json"):
            json.loads(files[path])
    page = files["index.html"].decode()
    assert "Public API" in page and "Website" in page and "Checkout errors" in page
    assert re.search(r'<time id="updated" datetime="[^"]+">[^<]+\d[^<]*</time>', page)


async def test_a_draft_is_in_no_file_of_the_snapshot(site: Site) -> None:
    files = (await snap(site)).files
    assert not [p for p in files if str(site.draft) in p]
    for path, body in files.items():
        assert str(site.draft).encode() not in body, path
        assert b"Secret draft" not in body, path


async def test_links_in_the_html_are_relative_and_the_event_stream_is_gone(site: Site) -> None:
    files = (await snap(site)).files
    page = files["index.html"].decode()
    assert not re.search(r"""(?:href|src)="/""", page)
    assert "data-events" not in page
    assert 'href="static/status.css"' in page and 'src="static/live.js"' in page
    assert f'href="incidents/{site.published}/index.html"' in page
    incident = files[f"incidents/{site.published}/index.html"].decode()
    assert 'href="../../static/status.css"' in incident
    assert 'href="../../index.html"' in incident
    assert not re.search(r"""(?:href|src)="/""", incident)


async def test_feeds_and_json_name_the_public_address_not_the_renderer(site: Site) -> None:
    files = (await snap(site)).files
    for path, body in files.items():
        assert ORIGIN.encode() not in body, path
    summary = json.loads(files["api/v2/summary.json"])
    assert summary["page"]["url"] == BASE
    assert f"{BASE}/incidents/{site.published}".encode() in files["feed.atom"]


async def test_older_history_pages_are_files_linked_both_ways(site: Site) -> None:
    org = await site.store.get_org_by_slug("acme")
    assert org is not None
    start = utcnow() - timedelta(days=30)
    made = []
    for n in range(HISTORY_PAGE + 2):
        at = start + timedelta(days=n)
        incident = await site.store.create_incident(
            org.id, "test", "Ops", title=f"Old {n:02d}", body="x", at=at,
            components=site.components[1:], publish=True,
        )  # fmt: skip
        await site.store.add_incident_update(
            org.id, incident.id, "test", "Ops", status=IncidentState.RESOLVED, body="ok",
            at=at + timedelta(hours=1),
        )  # fmt: skip
        made.append(incident.id)
    files = (await snap(site)).files
    older = f"older/{made[2]}/index.html"
    page = files["index.html"].decode()
    assert f'href="{older}#history-heading" rel="next"' in page
    second = files[older].decode()
    assert 'href="../../index.html#history-heading">Latest incidents' in second
    assert f'href="../../incidents/{made[0]}/index.html"' in second
    assert f"incidents/{made[0]}/index.html" in files


async def test_an_unknown_page_is_refused(site: Site) -> None:
    with pytest.raises(UnknownPage):
        await snap(site, "nope")


def test_rewriting_touches_attributes_of_tags_never_text() -> None:
    html = (
        '<main data-events="/s/acme/events"><a href="/s/acme#history-heading">x</a>'
        '<p>write href="/s/acme" in text</p><a href="https://example.com/s/acme">y</a>'
        '<a href="/s/acme/incidents/nope">z</a></main>'
    )
    out = rewrite_html(html, "older/1/index.html", "acme", {"index.html"})
    assert out == (
        '<main><a href="../../index.html#history-heading">x</a>'
        '<p>write href="/s/acme" in text</p><a href="https://example.com/s/acme">y</a>'
        '<a href="/s/acme/incidents/nope">z</a></main>'
    )


def test_a_directory_target_is_replaced_whole(tmp_path: Path) -> None:
    out = tmp_path / "site"
    target = SnapshotTarget.from_url(str(out))
    target.write(Snapshot("acme", {"index.html": b"one", "incidents/a/index.html": b"a"}))
    target.write(Snapshot("acme", {"index.html": b"two", "static/status.css": b"css"}))
    assert (out / "index.html").read_bytes() == b"two"
    assert not (out / "incidents").exists()  # the old snapshot's files are gone
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]  # no temporary leftovers


def test_a_directory_that_is_not_a_snapshot_is_never_replaced(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(TargetInUse, match="is not empty and is not a StatPulse snapshot"):
        SnapshotTarget.from_url(str(tmp_path)).write(Snapshot("acme", {"index.html": b"x"}))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_a_bad_target_url_names_the_setting() -> None:
    with pytest.raises(SnapshotError, match=r"^snapshot_url: unsupported scheme 'ftp'"):
        SnapshotTarget.from_url("ftp://host/dir")


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def new_bucket(s3_endpoint: str) -> tuple[pafs.S3FileSystem, str]:
    """A new bucket on the moto server, and a filesystem to read it as its admin."""
    bucket = f"snap-{uuid.uuid4().hex[:12]}"
    admin = pafs.S3FileSystem(
        access_key=KEY,
        secret_key=SECRET,
        endpoint_override=s3_endpoint.removeprefix("http://"),
        scheme="http",
        region="us-east-1",
        allow_bucket_creation=True,
    )
    admin.create_dir(bucket)
    return admin, bucket


def test_an_s3_target_gets_every_file_with_its_type_and_loses_stale_ones(s3_endpoint: str) -> None:
    admin, bucket = new_bucket(s3_endpoint)
    url = f"s3://{bucket}/pages?endpoint={s3_endpoint}"
    target = SnapshotTarget.from_url(url, access_key=KEY, secret_key=SECRET).child("acme")
    target.write(Snapshot("acme", {"index.html": b"<p>old", "incidents/a/index.html": b"a"}))
    target.write(Snapshot("acme", {"index.html": b"<p>new", "feed.rss": b"<rss/>"}))
    selector = pafs.FileSelector(f"{bucket}/pages/acme", recursive=True)
    names = sorted(i.path for i in admin.get_file_info(selector) if i.type == pafs.FileType.File)
    assert names == [f"{bucket}/pages/acme/{n}" for n in (MARKER, "feed.rss", "index.html")]
    with admin.open_input_stream(f"{bucket}/pages/acme/index.html") as stream:
        assert stream.read() == b"<p>new"
        assert stream.metadata()["Content-Type"] == b"text/html; charset=utf-8"


async def test_the_publisher_publishes_at_start_and_once_per_burst_of_changes(
    tmp_path: Path,
) -> None:
    rendered: list[str] = []

    async def render(slug: str) -> Snapshot:
        rendered.append(slug)
        return Snapshot(slug, {"index.html": f"<p>{len(rendered)}".encode()})

    live = Broadcaster()
    target = SnapshotTarget.from_url(str(tmp_path / "out"))
    publisher = SnapshotPublisher(render, target, ["acme"], live, min_interval_s=0.3)
    await publisher.start()
    try:
        await _until(lambda: publisher.published == 1 and live.subscriber_count == 1)
        assert (tmp_path / "out" / "acme" / "index.html").read_bytes() == b"<p>1"
        for _ in range(20):
            live.publish(MonitorChanged(uuid.uuid4(), Status.DOWN))
        await _until(lambda: publisher.published == 2)
        await asyncio.sleep(0.8)  # longer than the interval: the burst made no third round
        assert publisher.published == 2
        assert (tmp_path / "out" / "acme" / "index.html").read_bytes() == b"<p>2"
        publisher.changed()
        await _until(lambda: publisher.published == 3)
    finally:
        await publisher.stop()


async def test_a_failing_page_does_not_stop_the_publisher(tmp_path: Path) -> None:
    async def render(slug: str) -> Snapshot:
        if slug == "gone":
            raise UnknownPage("no status page 'gone'")
        return Snapshot(slug, {"index.html": b"ok"})

    target = SnapshotTarget.from_url(str(tmp_path))
    publisher = SnapshotPublisher(render, target, ["gone", "acme"], Broadcaster())
    await publisher.publish_once()
    assert (tmp_path / "acme" / "index.html").read_bytes() == b"ok"


async def _until(check: Any, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.02)


async def test_the_cli_writes_the_page_and_lists_the_files(site: Site, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["export-static", "--page", "acme", "--out", str(out), "--db", site.db]
    result = await asyncio.to_thread(CliRunner().invoke, cli_app, args)
    assert result.exit_code == 0, result.output
    assert f"{out}/index.html" in result.stdout
    assert f"{out}/incidents/{site.published}/index.html" in result.stdout
    assert (out / "static" / "status.css").is_file()


async def test_the_cli_refuses_an_unknown_page_with_exit_2(site: Site, tmp_path: Path) -> None:
    args = ["export-static", "--page", "nope", "--out", str(tmp_path / "o"), "--db", site.db]
    result = await asyncio.to_thread(CliRunner().invoke, cli_app, args)
    assert result.exit_code == 2
    assert "no status page 'nope'" in result.output
    assert not (tmp_path / "o").exists()


async def test_the_cli_refuses_a_directory_that_is_not_a_snapshot(
    site: Site, tmp_path: Path
) -> None:
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "notes.txt").write_text("mine")
    args = ["export-static", "--page", "acme", "--out", str(tmp_path / "home"), "--db", site.db]
    result = await asyncio.to_thread(CliRunner().invoke, cli_app, args)
    assert result.exit_code == 2
    assert "not a StatPulse snapshot" in result.output
    assert (tmp_path / "home" / "notes.txt").read_text() == "mine"
