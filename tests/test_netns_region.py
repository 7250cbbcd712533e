"""A runner in its own network namespace (a veth pair to the host, addresses of the test's own)
is cut off by taking its link down, keeps checking into its spool, and once the link is back
every result of the partition arrives, in every 1 s slot, once.

Needs root (``ip netns``); where namespaces cannot be created the test is skipped with the
reason, and the loopback tests (tests/runner/test_remote.py) cover the same outage.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import secrets
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
import sqlalchemy as sa

from statpulse.model import MonitorConfig
from statpulse.security import pki
from statpulse.store import schema as t
from statpulse.store.sql import SqlStore, open_store
from statpulse.web.runner_api import RunnerApi
from tests.processes import free_port
from tests.test_e2e import _Health

pytestmark = pytest.mark.slow


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@pytest.fixture
def netns() -> Iterator[tuple[str, str, str]]:
    """(namespace, host-side link, host address); the runner's side is .2 of a /30."""
    tag = secrets.token_hex(3)
    ns, host_link, ns_link = f"sp{tag}", f"sph{tag}", f"spn{tag}"
    octet = int(tag[:2], 16) % 250 + 1
    host_ip, ns_ip = f"10.213.{octet}.1", f"10.213.{octet}.2"
    try:
        _ip("netns", "add", ns)
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"SKIPPING: cannot create a network namespace here ({exc})")
    try:
        _ip("link", "add", host_link, "type", "veth", "peer", "name", ns_link)
        _ip("link", "set", ns_link, "netns", ns)
        _ip("addr", "add", f"{host_ip}/30", "dev", host_link)
        _ip("link", "set", host_link, "up")
        _ip("-n", ns, "addr", "add", f"{ns_ip}/30", "dev", ns_link)
        _ip("-n", ns, "link", "set", ns_link, "up")
        _ip("-n", ns, "link", "set", "lo", "up")
        yield ns, host_link, host_ip
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)
        subprocess.run(["ip", "link", "del", host_link], check=False, capture_output=True)


async def stored(store: SqlStore) -> list[sa.Row[object]]:
    r = t.check_results.c
    async with store.engine.connect() as conn:
        query = sa.select(r.scheduled_at, r.ok).order_by(r.scheduled_at)
        return list(await conn.execute(query))


async def test_a_region_cut_off_by_its_link_loses_nothing(
    tmp_path: Path, netns: tuple[str, str, str]
) -> None:
    ns, host_link, host_ip = netns
    target = ThreadingHTTPServer((host_ip, 0), _Health)
    threading.Thread(target=target.serve_forever, daemon=True).start()
    pki_dir = tmp_path / "pki"
    pki.init_pki(pki_dir, server_names=(host_ip,))
    pki.issue_runner(pki_dir, "eu")
    store = await open_store(f"sqlite:///{tmp_path / 'engine.db'}")
    org = await store.create_org("acme", "Acme")
    config = MonitorConfig(
        name="api",
        kind="http",
        target=f"http://{host_ip}:{target.server_address[1]}/",
        interval_s=1,
        timeout_s=0.5,
        regions=("eu",),
    )
    await store.create_monitor(org.id, config)
    port = free_port()
    api = RunnerApi(store, store.add_results, pki_dir)
    await api.start(host_ip, port)
    log = tmp_path / "runner.log"
    with log.open("wb") as out:
        runner = subprocess.Popen(
            [
                "ip", "netns", "exec", ns, sys.executable, "-m", "statpulse", "runner",
                "--region", "eu", "--engine", f"https://{host_ip}:{port}",
                "--cert", str(pki_dir / "runner-eu.crt"),
                "--key", str(pki_dir / "runner-eu.key"),
                "--ca", str(pki_dir / "ca.crt"),
                "--spool", str(tmp_path / "spool"),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "NO_COLOR": "1"},
        )  # fmt: skip
    try:
        async with asyncio.timeout(30):
            while len(await stored(store)) < 3:
                await asyncio.sleep(0.2)
        _ip("link", "set", host_link, "down")  # the region is cut off: engine and target
        await asyncio.sleep(4)
        during = len(await stored(store))
        _ip("link", "set", host_link, "up")
        async with asyncio.timeout(40):
            while True:
                rows = await stored(store)
                failed = [row for row in rows if not row.ok]
                if len(rows) > during + 4 and failed and rows[-1].ok:
                    break
                await asyncio.sleep(0.3)
        runner.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(runner.wait, 15) == 0, log.read_text()[-3000:]
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
        await api.stop()
        target.shutdown()
        target.server_close()
    rows = await stored(store)
    await store.close()
    slots = [row.scheduled_at for row in rows]
    assert len(slots) == len(set(slots))
    # Every 1 s slot from the first to the last, the partition included (its checks failed:
    # the target was cut off too), came through the spool.
    assert {b - a for a, b in itertools.pairwise(slots)} == {timedelta(seconds=1)}
