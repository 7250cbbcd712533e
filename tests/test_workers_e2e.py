"""`statpulse serve --workers 2 --redis URL`: two processes share the port, the result stream
and live updates; a state change is evaluated once, and pages on either process see it."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import uuid
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from tests.bus import REDIS_URL, redis_keys
from tests.processes import free_port, running, statpulse, wait_for
from tests.test_e2e import _Health

pytestmark = pytest.mark.slow


async def _consumers(prefix: str) -> list[dict[str, Any]]:
    async with redis_keys(prefix) as (client, _):
        assert isinstance(client, Redis)
        groups = await client.xinfo_groups(f"{prefix}:results")
        assert [g["name"] for g in groups] == [b"evaluators"]
        return list(await client.xinfo_consumers(f"{prefix}:results", "evaluators"))


def test_two_workers_share_the_stream_and_evaluate_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = REDIS_URL
    namespace = f"test-workers-{uuid.uuid4().hex[:8]}"
    asyncio.run(_consumers_or_skip(namespace))
    monkeypatch.setenv("STATPULSE_REDIS_NAMESPACE", namespace)
    db_path = tmp_path / "w.db"
    db = f"sqlite:///{db_path}"
    created = statpulse("apikey", "create", "--org", "w", "--db", db, cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    auth = {"Authorization": f"Bearer {created.stdout.strip().splitlines()[-1]}"}
    target = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    threading.Thread(target=target.serve_forever, daemon=True).start()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    try:
        with running(
            "serve", "--db", db, "--workers", "2", "--redis", url, cwd=tmp_path, port=port
        ):
            # Several monitors: their results arrive in several batches over an interval, and
            # Redis hands blocked readers entries in turn, so both processes get some.
            monitors = [
                httpx.post(
                    f"{base}/api/v1/monitors",
                    headers=auth,
                    json={
                        "name": f"api {n}",
                        "kind": "http",
                        "target": f"http://127.0.0.1:{target.server_address[1]}/{n}",
                        "interval_s": 10,
                        "failure_threshold": 1,
                    },
                ).json()
                for n in range(8)
            ]
            monitor = monitors[0]

            def up() -> bool:
                got = httpx.get(f"{base}/api/v1/monitors/{monitor['id']}", headers=auth)
                return bool(got.json()["status"] == "up")

            wait_for(up, timeout=30, what="monitor up", log=tmp_path)
            # Both processes read the one group (a consumer appears at its first read).
            wait_for(
                lambda: len(asyncio.run(_consumers(namespace))) == 2,
                timeout=40,
                what="two consumers",
                log=tmp_path,
            )
            # Every process answers on the port (new connections spread over both).
            for _ in range(10):
                assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
    finally:
        target.shutdown()
        target.server_close()
        asyncio.run(_cleanup(namespace))
    with sqlite3.connect(db_path) as conn:
        changes = conn.execute(
            "SELECT monitor_id, count(*) FROM state_changes WHERE to_status = 'up' "
            "GROUP BY monitor_id"
        ).fetchall()
    assert changes and {count for _, count in changes} == {1}  # once, not once per worker


async def _consumers_or_skip(prefix: str) -> None:
    async with redis_keys(prefix):
        pass


async def _cleanup(prefix: str) -> None:
    async with redis_keys(prefix) as (client, _):
        await client.delete(f"{prefix}:results")
