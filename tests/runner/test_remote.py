"""A remote runner against the real runner API over mutual TLS (in one process, real sockets):
results survive an engine outage exactly once, secrets never reach the disk, refusals stop it."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import sqlalchemy.exc

from statpulse.metrics import Metrics
from statpulse.model import HttpOptions, MonitorConfig, utcnow
from statpulse.runner.remote import (
    EngineClient,
    EngineError,
    RemoteRunner,
    SpoolUploader,
    parse_retry_after,
)
from statpulse.runner.spool import Spool
from statpulse.security import pki
from statpulse.store import schema as t
from statpulse.store.sql import SqlStore, open_store
from statpulse.web.admission import Admission
from statpulse.web.runner_api import RunnerApi
from tests.processes import free_port
from tests.store.test_contract import result

SECRET = "Bearer s3cr3t-runner-token-QX7"


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture
def target() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture
def pki_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "pki"
    pki.init_pki(directory)
    for region in ("eu", "us"):
        pki.issue_runner(directory, region)
    return directory


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    s = await open_store(f"sqlite:///{tmp_path / 'engine.db'}")
    try:
        yield s
    finally:
        await s.close()


async def monitor(store: SqlStore, target: str, **http: Any) -> Any:
    org = await store.create_org(f"o{len(await store.list_orgs())}", "Org")
    config = MonitorConfig(
        name="api",
        kind="http",
        target=target,
        interval_s=1,  # below the API's minimum of 10 s: the store takes it, tests run fast
        regions=("eu",),
        http=HttpOptions(**http),
    )
    return await store.create_monitor(org.id, config)


def runner(pki_dir: Path, port: int, spool: Path, region: str = "eu") -> RemoteRunner:
    context = pki.client_context(
        pki_dir / f"runner-{region}.crt", pki_dir / f"runner-{region}.key", pki_dir / "ca.crt"
    )
    return RemoteRunner(
        region=region,
        engine_url=f"https://127.0.0.1:{port}",
        context=context,
        spool_dir=spool,
        refresh_interval_s=0.5,
    )


async def stored(store: SqlStore) -> list[Any]:
    r = t.check_results.c
    async with store.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(r.id, r.region, r.scheduled_at).order_by(r.scheduled_at)
        )
        return list(rows)


async def until(check: Any, timeout: float = 15) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.05)


async def test_results_made_while_the_engine_is_down_arrive_once(
    store: SqlStore, target: str, pki_dir: Path, tmp_path: Path
) -> None:
    m = await monitor(store, target)
    port = free_port()
    api = RunnerApi(store, store.add_results, pki_dir)
    await api.start("127.0.0.1", port)
    r = runner(pki_dir, port, tmp_path / "spool")
    await r.start()
    try:
        await until(lambda: _count(store, 2))
        await api.stop()  # the engine goes away; the runner keeps checking into its spool
        await asyncio.sleep(3.2)
        assert r.spool.stats().records >= 2
        api = RunnerApi(store, store.add_results, pki_dir)
        await api.start("127.0.0.1", port)
        await until(lambda: _spool_empty(r))
        await asyncio.sleep(0.3)
    finally:
        await r.stop()
        await api.stop()
    rows = await stored(store)
    assert {row.region for row in rows} == {"eu"}
    slots = [row.scheduled_at for row in rows]
    assert len(slots) == len(set(slots)) >= 6  # exactly once
    steps = {b - a for a, b in itertools.pairwise(slots)}
    assert steps == {timedelta(seconds=1)}  # no slot lost during the outage
    assert all(row.id for row in rows) and m.id


async def _count(store: SqlStore, n: int) -> bool:
    return len(await stored(store)) >= n


async def _spool_empty(r: RemoteRunner) -> bool:
    return r.spool.stats().records == 0


async def test_secrets_stay_in_memory(
    store: SqlStore, target: str, pki_dir: Path, tmp_path: Path
) -> None:
    await monitor(store, target, headers={"Authorization": SECRET})
    port = free_port()
    api = RunnerApi(store, store.add_results, pki_dir)
    await api.start("127.0.0.1", port)
    spool = tmp_path / "spool"
    r = runner(pki_dir, port, spool)
    await r.start()
    try:
        await until(lambda: _count(store, 2))
        await api.stop()
        await asyncio.sleep(1.2)  # results spooled while the engine is away
    finally:
        await r.stop()
    files = [p for p in spool.rglob("*") if p.is_file()]
    assert files
    for path in files:
        assert SECRET.encode() not in path.read_bytes(), path
    # A restarted runner without the engine does not get the secret-bearing spec back.
    again = runner(pki_dir, port, spool)
    specs = await again.assignments.fetch()
    await again.client.close()
    again.spool.close()
    assert list(specs) == []


async def test_a_revoked_runner_is_refused_without_a_restart(
    store: SqlStore, target: str, pki_dir: Path, tmp_path: Path
) -> None:
    await monitor(store, target)
    port = free_port()
    api = RunnerApi(store, store.add_results, pki_dir)
    await api.start("127.0.0.1", port)
    r = runner(pki_dir, port, tmp_path / "spool")
    await r.start()
    try:
        await until(lambda: _count(store, 1))
        pki.revoke(pki_dir, region="eu")
        with pytest.raises(EngineError, match="revoked"):
            async with asyncio.timeout(10):
                await r.wait()
    finally:
        await r.stop()
        await api.stop()


async def test_results_only_for_the_certificates_region(
    store: SqlStore, target: str, pki_dir: Path, tmp_path: Path
) -> None:
    """A runner of region us uploading results of an eu-only monitor: refused, and dropped."""
    m = await monitor(store, target)
    port = free_port()
    api = RunnerApi(store, store.add_results, pki_dir)
    await api.start("127.0.0.1", port)
    r = runner(pki_dir, port, tmp_path / "spool", region="us")
    try:
        forged = result(m.id, utcnow(), region="eu")
        answer, _, _ = await r.client.upload([forged], {"version": "x", "spool_depth": 0})
        assert answer["refused"] == 1 and answer["stored"] == 0
        specs, _ = await r.client.assignments(None)
        assert specs == []  # the us runner is assigned nothing of eu's
    finally:
        await r.client.close()
        r.spool.close()
        await api.stop()
    assert await stored(store) == []


async def test_a_claimed_region_other_than_the_certificates_is_refused(
    store: SqlStore, pki_dir: Path, tmp_path: Path
) -> None:
    port = free_port()
    api = RunnerApi(store, store.add_results, pki_dir)
    await api.start("127.0.0.1", port)
    context = pki.client_context(
        pki_dir / "runner-eu.crt", pki_dir / "runner-eu.key", pki_dir / "ca.crt"
    )
    client = EngineClient(f"https://127.0.0.1:{port}", "us", context)
    try:
        with pytest.raises(EngineError, match="region mismatch") as err:
            await client.assignments(None)
        assert err.value.status == 403
    finally:
        await client.close()
        await api.stop()


def eu_client(pki_dir: Path, port: int) -> EngineClient:
    context = pki.client_context(
        pki_dir / "runner-eu.crt", pki_dir / "runner-eu.key", pki_dir / "ca.crt"
    )
    return EngineClient(f"https://127.0.0.1:{port}", "eu", context)


async def test_a_throttled_upload_waits_retry_after_and_every_result_arrives_once(
    store: SqlStore, target: str, pki_dir: Path, tmp_path: Path
) -> None:
    """The engine's database slots are all taken: the uploader is answered 503 + Retry-After,
    waits, sends the same batch again; nothing is dropped nor counted as an upload error."""
    m = await monitor(store, target)
    admission = Admission(1, wait_s=0.05, retry_after_s=(1.0, 1.0))
    api = RunnerApi(store, store.add_results, pki_dir, admission=admission)
    await api.start("127.0.0.1", 0)
    assert api.port is not None
    client = eu_client(pki_dir, api.port)
    spool = Spool(tmp_path / "spool")
    sent = [result(m.id, utcnow() - timedelta(seconds=i)) for i in range(30)]
    spool.append(sent)
    metrics = Metrics()
    uploader = SpoolUploader(spool, client, metrics, batch_size=10, jitter=lambda: 0.0)
    task = asyncio.create_task(uploader.run())
    try:
        async with admission.slot():
            async with asyncio.timeout(10):
                while uploader.throttled < 2:
                    await asyncio.sleep(0.02)
            assert spool.stats().records == 30  # nothing acknowledged, nothing dropped
        await until(lambda: _spool_drained(spool))
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await client.close()
        spool.close()
        await api.stop()
    rows = await stored(store)
    assert sorted(row.id for row in rows) == sorted(r.id for r in sent)  # each exactly once
    assert metrics.upload_errors._value.get() == 0
    assert admission.refused >= 2


async def test_a_batch_stored_but_answered_503_is_stored_once_after_the_retry(
    store: SqlStore, target: str, pki_dir: Path, tmp_path: Path
) -> None:
    """The pool times out after the rows were written (the acknowledgement is lost): the
    uploader sends the batch again and the result ids keep it to one row each."""
    m = await monitor(store, target)
    calls = {"n": 0}

    async def stored_then_timeout(batch: Any) -> int:
        calls["n"] += 1
        inserted = await store.add_results(batch)
        if calls["n"] == 1:
            raise sqlalchemy.exc.TimeoutError("QueuePool limit reached")
        return inserted

    api = RunnerApi(
        store, stored_then_timeout, pki_dir, admission=Admission(4, retry_after_s=(1.0, 1.0))
    )
    await api.start("127.0.0.1", 0)
    assert api.port is not None
    client = eu_client(pki_dir, api.port)
    spool = Spool(tmp_path / "spool")
    sent = [result(m.id, utcnow() - timedelta(seconds=i)) for i in range(5)]
    spool.append(sent)
    uploader = SpoolUploader(spool, client, Metrics(), jitter=lambda: 0.0)
    task = asyncio.create_task(uploader.run())
    try:
        await until(lambda: _spool_drained(spool))
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await client.close()
        spool.close()
        await api.stop()
    assert uploader.throttled == 1 and calls["n"] >= 2
    rows = await stored(store)
    assert sorted(row.id for row in rows) == sorted(r.id for r in sent)


async def _spool_drained(spool: Spool) -> bool:
    return spool.stats().records == 0


def test_retry_after_is_read_as_seconds_or_an_http_date() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412490.0) == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
