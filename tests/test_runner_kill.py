"""A runner process killed with SIGKILL again and again (while checking, spooling and uploading,
half of the times with a backlog built up while the engine was away): every result its spool held
at a kill is stored once it is back, and nothing is stored twice."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
import sqlalchemy as sa

from statpulse.model import MonitorConfig
from statpulse.runner.spool import Spool
from statpulse.security import pki
from statpulse.store import schema as t
from statpulse.store.sql import SqlStore, open_store
from statpulse.web.runner_api import RunnerApi
from tests.processes import free_port
from tests.test_e2e import _Health

pytestmark = pytest.mark.slow
KILLS = 8


@pytest.fixture
def target() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def start_runner(pki_dir: Path, port: int, spool: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [
                sys.executable, "-m", "statpulse", "runner", "--region", "eu",
                "--engine", f"https://127.0.0.1:{port}",
                "--cert", str(pki_dir / "runner-eu.crt"),
                "--key", str(pki_dir / "runner-eu.key"),
                "--ca", str(pki_dir / "ca.crt"),
                "--spool", str(spool),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "NO_COLOR": "1"},
        )  # fmt: skip


async def stored(store: SqlStore) -> list[sa.Row[object]]:
    r = t.check_results.c
    async with store.engine.connect() as conn:
        return list(await conn.execute(sa.select(r.id, r.region, r.scheduled_at)))


async def started(log: Path, count: int) -> None:
    """Wait until ``count`` runners have logged that they run (at most 60 s)."""
    async with asyncio.timeout(60):
        while log.read_text().count("runner started") < count:
            await asyncio.sleep(0.1)


async def test_killed_runners_lose_nothing_and_store_nothing_twice(
    tmp_path: Path, target: str
) -> None:
    pki_dir = tmp_path / "pki"
    pki.init_pki(pki_dir)
    pki.issue_runner(pki_dir, "eu")
    store = await open_store(f"sqlite:///{tmp_path / 'engine.db'}")
    org = await store.create_org("acme", "Acme")
    for n in range(5):  # five monitors at 1 s: results all the time (the store takes < 10 s)
        await store.create_monitor(
            org.id,
            MonitorConfig(
                name=f"m{n}", kind="http", target=f"{target}{n}", interval_s=1, regions=("eu",)
            ),
        )
    port = free_port()
    api = RunnerApi(store, store.add_results, pki_dir)
    await api.start("127.0.0.1", port)
    spool, log = tmp_path / "spool", tmp_path / "runner.log"
    rng = random.Random(7)
    must_arrive: set[object] = set()
    runner = start_runner(pki_dir, port, spool, log)
    try:
        for i in range(KILLS):
            if i % 2 == 0:  # the engine away: results pile up in the spool
                await api.stop()
            # Each runner is killed once it runs (its start-up alone takes 2-3 s on a loaded
            # machine), after a while of checks, spooling and uploads.
            await started(log, i + 1)
            await asyncio.sleep(rng.uniform(1.0, 2.5))
            if i % 2 == 0:  # back, and the runner killed before or while it catches up
                api = RunnerApi(store, store.add_results, pki_dir)
                await api.start("127.0.0.1", port)
                await asyncio.sleep(rng.uniform(0, 0.5))
            runner.send_signal(signal.SIGKILL)
            await asyncio.to_thread(runner.wait)
            with Spool(spool) as left:  # what the killed runner had not yet handed over
                must_arrive |= {r.id for _, r in left.pending(100_000)}
            runner = start_runner(pki_dir, port, spool, log)
        async with asyncio.timeout(30):
            while not must_arrive <= {row.id for row in await stored(store)}:
                await asyncio.sleep(0.2)
            # SIGTERM once the last runner handles it (before, the default action kills it).
            await started(log, KILLS + 1)
        runner.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(runner.wait, 15) == 0, log.read_text()[-3000:]
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
        await api.stop()
    rows = await stored(store)
    await store.close()
    assert must_arrive, "no kill found results in the spool: the test proved nothing"
    assert len(rows) >= 2 * KILLS  # the runners kept checking between kills (load-tolerant)
    slots = [(row.region, row.scheduled_at) for row in rows]
    assert len(slots) == len(set(slots))  # no result stored twice, even replayed
