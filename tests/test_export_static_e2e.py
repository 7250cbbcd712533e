"""End to end: `statpulse serve` on a temporary SQLite file with an up and a down component and
a published incident; `statpulse export-static` against the same database; then the server
stops and a stock web server (`python -m http.server`) serves the snapshot: the page still shows
the last known states and their time, with its CSS, feed and Statuspage JSON."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.processes import free_port, running, statpulse, wait_for

pytestmark = pytest.mark.slow


class _Healthy(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *_args: Any) -> None:
        pass


def _statuses(base: str) -> dict[str, str]:
    response = httpx.get(f"{base}/api/v1/status/shop", timeout=5)
    response.raise_for_status()
    return {c["name"]: c["status"] for c in response.json()["components"]}


def _get(url: str) -> httpx.Response | None:
    try:
        return httpx.get(url, timeout=2)
    except httpx.TransportError:
        return None


def _create(base: str, auth: dict[str, str], path: str, body: dict[str, Any]) -> str:
    response = httpx.post(f"{base}{path}", headers=auth, json=body, timeout=10)
    assert response.status_code == 201, response.text
    found: str = response.json()["id"]
    return found


def test_the_snapshot_serves_the_last_known_page_after_the_server_stops(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'e2e.db'}"
    created = statpulse("apikey", "create", "--org", "e2e", "--db", db, cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    auth = {"Authorization": f"Bearer {created.stdout.strip().splitlines()[-1]}"}
    target = ThreadingHTTPServer(("127.0.0.1", 0), _Healthy)
    threading.Thread(target=target.serve_forever, daemon=True).start()
    out = tmp_path / "snapshot"

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    try:
        with running("serve", "--db", db, cwd=tmp_path, port=port):
            _create(base, auth, "/api/v1/pages", {"slug": "shop", "title": "Shop status"})
            components: dict[str, str] = {}
            for name, url in (
                ("Checkout", f"http://127.0.0.1:{target.server_address[1]}/"),
                ("Search", f"http://127.0.0.1:{free_port()}/"),  # nothing listens: down
            ):
                monitor = _create(
                    base,
                    auth,
                    "/api/v1/monitors",
                    {"name": name, "kind": "http", "target": url, "interval_s": 10,
                     "timeout_s": 2, "failure_threshold": 1},
                )  # fmt: skip
                components[name] = _create(
                    base,
                    auth,
                    "/api/v1/components",
                    {"name": name, "monitor_id": monitor, "pages": ["shop"]},
                )
            incident = _create(
                base,
                auth,
                "/api/v1/incidents",
                {
                    "title": "Search is down",
                    "body": "We are on it.",
                    "impact": "major",
                    "components": [components["Search"]],
                    "publish": True,
                },
            )
            wait_for(
                lambda: _statuses(base) == {"Checkout": "up", "Search": "down"},
                timeout=40,
                what="one component up, one down",
                log=tmp_path,
            )
            exported = statpulse(
                "export-static", "--page", "shop", "--out", str(out), "--db", db, cwd=tmp_path
            )
            assert exported.returncode == 0, exported.stderr
            assert f"{out}/index.html" in exported.stdout
    finally:
        target.shutdown()
        target.server_close()
    assert _get(f"{base}/healthz") is None  # the origin is gone

    static_port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(static_port), "--bind", "127.0.0.1"],
        cwd=out,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        site = f"http://127.0.0.1:{static_port}"
        page = wait_for(lambda: _get(f"{site}/index.html"), timeout=15, what="http.server")
        assert page.status_code == 200
        html = page.text
        # The component's name links to its detail page, relative in the snapshot.
        name = r'<div class="head"><h3><a href="components/[0-9a-f-]+/index.html">{}</a></h3>'
        assert re.search(r'data-status="up">\s*' + name.format("Checkout"), html)
        assert re.search(r'data-status="down">\s*' + name.format("Search"), html)
        assert "Operational" in html and "Major outage" in html
        updated = re.search(r'<time id="updated" datetime="([^"]+)">([^<]+)</time>', html)
        assert updated is not None and re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", updated[2])
        assert "Search is down" in html

        css = httpx.get(f"{site}/static/status.css")
        assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
        assert 'href="static/status.css"' in html
        assert httpx.get(f"{site}/incidents/{incident}/index.html").status_code == 200
        feed = httpx.get(f"{site}/feed.rss")
        assert feed.status_code == 200 and "Search is down" in feed.text
        summary = httpx.get(f"{site}/api/v2/summary.json").json()
        states = {c["name"]: c["status"] for c in summary["components"]}
        assert states == {"Checkout": "operational", "Search": "major_outage"}
    finally:
        server.terminate()
        server.wait(timeout=10)
