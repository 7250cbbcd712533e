"""A remote runner keeps one TLS connection to the engine across idle gaps longer than aiohttp's
default keep-alive (15 s): a throttled runner told to come back in 20-60 s must not pay (and
make the engine pay) a new mutual-TLS handshake each time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from statpulse.runner.remote import KEEPALIVE_S, EngineClient
from statpulse.security import pki
from statpulse.store.sql import SqlStore, open_store
from statpulse.web import runner_api
from statpulse.web.runner_api import RunnerApi

pytestmark = pytest.mark.slow

AIOHTTP_DEFAULT_KEEPALIVE_S = 15.0
ESTABLISHED = "01"


def _client_ports(server_port: int) -> set[int]:
    """Local ports of the established IPv4 connections to ``server_port`` (/proc/net/tcp)."""
    ports = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state = fields[1], fields[2], fields[3]
        if int(remote.rsplit(":", 1)[1], 16) == server_port and state == ESTABLISHED:
            ports.add(int(local.rsplit(":", 1)[1], 16))
    return ports


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    s = await open_store(f"sqlite:///{tmp_path / 'engine.db'}")
    try:
        yield s
    finally:
        await s.close()


def test_the_runner_keeps_its_connection_longer_than_any_throttled_wait() -> None:
    assert KEEPALIVE_S > 60 * 1.5  # SpoolUploader: Retry-After capped at 60 s, x1-1.5 jitter
    assert KEEPALIVE_S < runner_api.KEEPALIVE_S  # never reuse one the engine is closing


async def test_one_connection_across_an_idle_gap_longer_than_aiohttps_default(
    store: SqlStore, tmp_path: Path
) -> None:
    pki_dir = tmp_path / "pki"
    pki.init_pki(pki_dir)
    pki.issue_runner(pki_dir, "eu")
    api = RunnerApi(store, store.add_results, pki_dir)
    await api.start("127.0.0.1", 0)
    assert api.port is not None
    context = pki.client_context(
        pki_dir / "runner-eu.crt", pki_dir / "runner-eu.key", pki_dir / "ca.crt"
    )
    client = EngineClient(f"https://127.0.0.1:{api.port}", "eu", context)
    health = {"version": "t", "spool_depth": 0}
    try:
        await client.upload([], health)
        first = _client_ports(api.port)
        assert len(first) == 1
        await asyncio.sleep(AIOHTTP_DEFAULT_KEEPALIVE_S + 1.5)
        assert _client_ports(api.port) == first  # still open, idle
        await client.upload([], health)
        assert _client_ports(api.port) == first  # and used again: no new handshake
    finally:
        await client.close()
        await api.stop()
