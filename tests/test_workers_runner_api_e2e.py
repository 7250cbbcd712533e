"""`statpulse serve --workers 2 --runner-port P --pki D`: both processes accept runner
connections over mutual TLS (SO_REUSEPORT spreads them), each admits its share of the uploads
(``web/admission.py``), and a batch acknowledged through either process is stored exactly once.

Which process holds a connection is read from ``/proc`` (the established sockets on the runner
port that each process has open), not from anything the server says."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import ssl
import uuid
from pathlib import Path

import aiohttp
import pytest

from statpulse.model import MonitorConfig, utcnow
from statpulse.security import pki
from statpulse.store.sql import open_store
from statpulse.wire import result_to_dict
from tests.bus import REDIS_URL, redis_keys
from tests.processes import free_port, running, wait_for
from tests.store.test_contract import result

pytestmark = pytest.mark.slow

CONNECTIONS = 16
RESULTS = 20
LISTEN, ESTABLISHED = "0A", "01"


def _sockets(port: int, state: str) -> list[int]:
    """Inodes of the IPv4 TCP sockets with local ``port`` in ``state`` (/proc/net/tcp)."""
    inodes = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == state:
            inodes.append(int(fields[9]))
    return inodes


def _owned(pid: int) -> set[int]:
    """Inodes of the sockets process ``pid`` has open."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = fd.readlink().name
        except OSError:  # closed meanwhile
            continue
        if match := re.fullmatch(r"socket:\[(\d+)\]", target):
            inodes.add(int(match[1]))
    return inodes


def _children(pid: int) -> list[int]:
    pids = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        pids += [int(p) for p in (task / "children").read_text().split()]
    return pids


async def _monitor(db: str) -> uuid.UUID:
    store = await open_store(db)
    try:
        org = await store.create_org("w", "Workers")
        config = MonitorConfig(
            name="api", kind="http", target="https://api.example.com/", regions=("eu",)
        )
        return (await store.create_monitor(org.id, config)).id
    finally:
        await store.close()


async def _upload_on_many_connections(
    port: int, context: ssl.SSLContext, body: bytes, pids: list[int]
) -> tuple[list[dict[str, int]], dict[int, int]]:
    """The same batch POSTed at once on CONNECTIONS fresh connections (a 503 is sent again, as
    a runner does); (the answers, connections per server process while they are open)."""
    sessions = [
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context, limit=1))
        for _ in range(CONNECTIONS)
    ]

    async def upload(session: aiohttp.ClientSession) -> dict[str, int]:
        for _ in range(100):
            async with session.post(
                f"https://127.0.0.1:{port}/runner/v1/results",
                data=body,
                headers={"Content-Type": "application/json"},
            ) as resp:
                if resp.status == 503:  # admission or a locked SQLite: the same batch again
                    await asyncio.sleep(0.2)
                    continue
                assert resp.status == 200, await resp.text()
                answer: dict[str, int] = await resp.json()
                return answer
        raise AssertionError("still 503 after 100 attempts")

    try:
        answers = await asyncio.gather(*(upload(s) for s in sessions))
        established = set(_sockets(port, ESTABLISHED))
        held = {pid: len(_owned(pid) & established) for pid in pids}
    finally:
        for session in sessions:
            await session.close()
    return answers, held


def test_both_workers_accept_runners_and_a_batch_is_stored_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asyncio.run(_redis_or_skip())
    monkeypatch.setenv("STATPULSE_REDIS_NAMESPACE", f"test-workers-runner-{uuid.uuid4().hex[:8]}")
    pki_dir = tmp_path / "pki"
    pki.init_pki(pki_dir)
    pki.issue_runner(pki_dir, "eu")
    context = pki.client_context(
        pki_dir / "runner-eu.crt", pki_dir / "runner-eu.key", pki_dir / "ca.crt"
    )
    db_path = tmp_path / "w.db"
    db = f"sqlite:///{db_path}"
    monitor_id = asyncio.run(_monitor(db))
    now = utcnow()
    batch = [result(monitor_id, now) for _ in range(RESULTS)]
    body = json.dumps({"results": [result_to_dict(r) for r in batch]}).encode()
    runner_port, port = free_port(), free_port()
    with running(
        "serve",
        "--db",
        db,
        "--workers",
        "2",
        "--redis",
        REDIS_URL,
        "--runner-port",
        str(runner_port),
        "--pki",
        str(pki_dir),
        cwd=tmp_path,
        port=port,
    ) as proc:
        wait_for(
            lambda: len(_sockets(runner_port, LISTEN)) == 2,
            timeout=40,
            what="both workers listening on the runner port",
            log=tmp_path,
        )
        # The worker processes: the first and those it started, each with a listener.
        listeners = set(_sockets(runner_port, LISTEN))
        pids = [p for p in (proc.pid, *_children(proc.pid)) if _owned(p) & listeners]
        assert len(pids) == 2
        answers, held = asyncio.run(_upload_on_many_connections(runner_port, context, body, pids))
    assert sum(held.values()) == CONNECTIONS
    assert all(count > 0 for count in held.values()), held  # both processes hold connections
    assert all(a["accepted"] == RESULTS and a["refused"] == 0 for a in answers)
    assert sum(a["stored"] for a in answers) == RESULTS  # new once, replays 0, in any process
    with sqlite3.connect(db_path) as conn:
        rows = conn.execute("SELECT count(*), count(DISTINCT id) FROM check_results").fetchone()
    assert rows == (RESULTS, RESULTS)
    # SQLite counts as 5 connections: 2 x 5 uploads in database work at once, shared out.
    log = (tmp_path / "server.log").read_text()
    listening = [line for line in log.splitlines() if "runner API listening" in line]
    assert len(listening) == 2, log
    assert all(re.search(r"\badmission=5\b", line) for line in listening), listening


async def _redis_or_skip() -> None:
    async with redis_keys("workers-runner-api"):
        pass
