"""End to end: `statpulse serve` as a process on a temporary SQLite file; a monitor created
through the API against a local target is seen up, then down once the target stops, in the
public JSON and on the HTML page."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.processes import free_port, running, statpulse, wait_for

pytestmark = pytest.mark.slow


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"status": "UP"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: Any) -> None:
        pass


def _component(base: str, slug: str) -> dict[str, Any] | None:
    response = httpx.get(f"{base}/api/v1/status/{slug}", timeout=5)
    response.raise_for_status()
    components: list[dict[str, Any]] = response.json()["components"]
    return components[0] if components else None


def test_monitor_goes_up_then_down_when_its_target_stops(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'e2e.db'}"
    created = statpulse("apikey", "create", "--org", "e2e", "--db", db, cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip().splitlines()[-1]
    auth = {"Authorization": f"Bearer {token}"}

    target = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    threading.Thread(target=target.serve_forever, daemon=True).start()
    target_url = f"http://127.0.0.1:{target.server_address[1]}/health"

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with running("serve", "--db", db, cwd=tmp_path, port=port):
        monitor = httpx.post(
            f"{base}/api/v1/monitors",
            headers=auth,
            json={
                "name": "Checkout API",
                "kind": "http",
                "target": target_url,
                "interval_s": 10,
                "timeout_s": 2,
                "failure_threshold": 1,
                "conditions": ["[STATUS] == 200", "[BODY].status == UP"],
            },
        )
        assert monitor.status_code == 201, monitor.text
        page = httpx.post(
            f"{base}/api/v1/pages", headers=auth, json={"slug": "shop", "title": "Shop status"}
        )
        assert page.status_code == 201, page.text
        component = httpx.post(
            f"{base}/api/v1/components",
            headers=auth,
            json={"name": "Checkout", "monitor_id": monitor.json()["id"], "pages": ["shop"]},
        )
        assert component.status_code == 201, component.text

        def status_is(expected: str) -> bool:
            c = _component(base, "shop")
            return c is not None and c["status"] == expected

        wait_for(lambda: status_is("up"), timeout=30, what="monitor up", log=tmp_path)
        html = httpx.get(f"{base}/s/shop").text
        assert "Checkout" in html and 'data-status="up"' in html

        with httpx.stream("GET", f"{base}/s/shop/events", timeout=10) as events:
            first = next(line for line in events.iter_lines() if line.startswith("data: "))
        live = json.loads(first.removeprefix("data: "))
        assert live["components"][0]["status"] == "up"

        target.shutdown()
        target.server_close()
        wait_for(lambda: status_is("down"), timeout=30, what="monitor down", log=tmp_path)
        html = httpx.get(f"{base}/s/shop").text
        assert 'data-status="down"' in html and "Major outage" in html

        stats = httpx.get(f"{base}/api/v1/monitors/{monitor.json()['id']}/stats", headers=auth)
        body = stats.json()
        assert body["checks"] >= 2 and 0 < body["uptime_pct"] < 100
        metrics = httpx.get(f"{base}/metrics").text
        assert 'statpulse_checks_total{kind="http",outcome="up"}' in metrics
        assert "statpulse_scheduler_lateness_seconds_bucket" in metrics
