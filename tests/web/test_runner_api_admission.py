"""Admission control of the runner API over real mutual TLS on loopback: a saturated ingest
answers 503 with Retry-After at once (not a 500 after the pool's timeout), database trouble is
a 503 too, and an upload with no database work never waits for a slot."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy.exc
from sqlalchemy.ext.asyncio import create_async_engine

from statpulse.model import CheckResult, MonitorConfig, utcnow
from statpulse.runner.remote import EngineClient, EngineError
from statpulse.security import pki
from statpulse.store.sql import SqlStore, open_store
from statpulse.web.admission import Admission, Overloaded, pool_capacity
from statpulse.web.runner_api import RunnerApi
from tests.store.test_contract import result

HEALTH = {"version": "t", "spool_depth": 0}


@pytest.fixture
def pki_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "pki"
    pki.init_pki(directory)
    pki.issue_runner(directory, "eu")
    return directory


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    s = await open_store(f"sqlite:///{tmp_path / 'engine.db'}")
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
async def client(pki_dir: Path) -> AsyncIterator[Callable[[int], EngineClient]]:
    context = pki.client_context(
        pki_dir / "runner-eu.crt", pki_dir / "runner-eu.key", pki_dir / "ca.crt"
    )
    holder: list[EngineClient] = []

    def make(port: int) -> EngineClient:
        holder.append(EngineClient(f"https://127.0.0.1:{port}", "eu", context))
        return holder[-1]

    yield make
    for c in holder:
        await c.close()


async def eu_monitor(store: SqlStore) -> Any:
    org = await store.create_org("o", "Org")
    config = MonitorConfig(
        name="api", kind="http", target="https://api.example.com/", regions=("eu",)
    )
    return await store.create_monitor(org.id, config)


async def serve(store: SqlStore, pki_dir: Path, admission: Admission, accept: Any = None) -> Any:
    api = RunnerApi(store, accept or store.add_results, pki_dir, admission=admission)
    await api.start("127.0.0.1", 0)
    return api


async def test_a_saturated_ingest_answers_503_with_retry_after(
    store: SqlStore, pki_dir: Path, client: Any
) -> None:
    m = await eu_monitor(store)
    admission = Admission(1, wait_s=0.05, retry_after_s=(2.0, 2.0))
    api = await serve(store, pki_dir, admission)
    engine = client(api.port)
    try:
        async with admission.slot():  # every database slot is taken
            with pytest.raises(EngineError) as err:
                await engine.upload([result(m.id, utcnow())], HEALTH)
        assert err.value.status == 503
        assert err.value.retry_after_s == 2.0
        assert err.value.throttled
        answer, _, _ = await engine.upload([result(m.id, utcnow())], HEALTH)  # slot free again
        assert answer["stored"] == 1
    finally:
        await api.stop()
    assert admission.refused == 1


async def test_a_pool_timeout_is_a_503_not_a_500(
    store: SqlStore, pki_dir: Path, client: Any
) -> None:
    m = await eu_monitor(store)

    async def timing_out(_batch: Sequence[CheckResult]) -> int:
        raise sqlalchemy.exc.TimeoutError("QueuePool limit of size 10 overflow 10 reached")

    api = await serve(store, pki_dir, Admission(4, retry_after_s=(1.0, 1.0)), timing_out)
    engine = client(api.port)
    try:
        with pytest.raises(EngineError) as err:
            await engine.upload([result(m.id, utcnow())], HEALTH)
    finally:
        await api.stop()
    assert err.value.status == 503
    assert err.value.retry_after_s == 1.0


async def test_a_health_report_not_yet_due_takes_no_slot(
    store: SqlStore, pki_dir: Path, client: Any
) -> None:
    admission = Admission(1, wait_s=0.0, max_waiting=0)
    api = await serve(store, pki_dir, admission)
    engine = client(api.port)
    try:
        await engine.upload([], HEALTH)  # the first report is stored (it takes the free slot)
        async with admission.slot():  # now none is free, and none may be waited for
            answer, _, _ = await engine.upload([], HEALTH)  # stored at most every 2 s: no work
            assert answer["stored"] == 0
    finally:
        await api.stop()
    assert admission.refused == 0


async def test_an_empty_upload_without_health_takes_no_slot(store: SqlStore, pki_dir: Path) -> None:
    admission = Admission(1, wait_s=0.0, max_waiting=0)
    api = await serve(store, pki_dir, admission)
    context = pki.client_context(
        pki_dir / "runner-eu.crt", pki_dir / "runner-eu.key", pki_dir / "ca.crt"
    )
    try:
        async with admission.slot(), aiohttp.ClientSession() as session:
            url = f"https://127.0.0.1:{api.port}/runner/v1/results"
            async with session.post(url, data=b'{"results":[]}', ssl=context) as resp:
                assert resp.status == 200
    finally:
        await api.stop()


async def test_admission_refuses_at_once_when_enough_requests_already_wait() -> None:
    admission = Admission(1, wait_s=10.0, max_waiting=1, retry_after_s=(1.0, 3.0))
    release = asyncio.Event()

    async def hold() -> None:
        async with admission.slot():
            await release.wait()

    holder = asyncio.create_task(hold())
    await asyncio.sleep(0)
    waiter = asyncio.create_task(hold())  # the one allowed to wait
    await asyncio.sleep(0)
    with pytest.raises(Overloaded) as err:
        async with admission.slot():
            pass
    assert 1 <= err.value.retry_after_s <= 3
    release.set()
    await asyncio.gather(holder, waiter)
    assert (admission.active, admission.waiting, admission.refused) == (0, 0, 1)


def test_retry_after_is_jittered_and_whole_seconds() -> None:
    draws = iter([1.0, 1.2, 2.9])
    admission = Admission(1, retry_after_s=(1.0, 3.0), rng=lambda _lo, _hi: next(draws))
    assert [admission.retry_after() for _ in range(3)] == [1, 2, 3]


async def test_retry_after_spreads_wider_when_many_more_are_refused_than_admitted() -> None:
    now = [0.0]
    admission = Admission(
        1,
        wait_s=0.0,
        max_waiting=0,
        retry_after_s=(1.0, 3.0),
        rng=lambda _lo, hi: hi,
        clock=lambda: now[0],
    )
    async with admission.slot():  # one admitted per second...
        for _ in range(200):  # ...and 200 refused: they cannot all come back within 3 s
            with pytest.raises(Overloaded):
                async with admission.slot():
                    pass
    now[0] = 1.0
    widened = admission.retry_after()
    assert 3 < widened <= 60
    for t in range(2, 60):  # the overload stops: the spread comes back down to the floor
        now[0] = float(t)
        admission.retry_after()
    assert admission.retry_after() == 3


def test_the_limit_follows_the_pool_of_a_postgresql_engine() -> None:
    engine = create_async_engine(
        "postgresql+asyncpg://u@127.0.0.1:1/db", pool_size=10, max_overflow=10
    )
    try:
        assert pool_capacity(engine) == 20
        assert Admission.for_engine(engine).limit == 40
    finally:
        engine.sync_engine.dispose()


async def test_sqlite_counts_as_a_few_connections(store: SqlStore) -> None:
    assert pool_capacity(store.engine) == 5


def test_worker_processes_share_out_the_limit() -> None:
    """``serve --workers N``: every process serves the runner API with 1/N of the limit, so
    together they keep no more uploads in database work than one process would."""
    engine = create_async_engine(
        "postgresql+asyncpg://u@127.0.0.1:1/db", pool_size=10, max_overflow=10
    )
    try:
        assert [Admission.for_engine(engine, workers=n).limit for n in (1, 2, 3, 4)] == [
            40,
            20,
            13,
            10,
        ]
        assert Admission.for_engine(engine, workers=64).limit == 1  # never 0
        with pytest.raises(ValueError, match="workers"):
            Admission.for_engine(engine, workers=0)
    finally:
        engine.sync_engine.dispose()


async def test_the_runner_api_of_one_of_two_workers_admits_half(
    store: SqlStore, pki_dir: Path, client: Any
) -> None:
    api = RunnerApi(store, store.add_results, pki_dir, workers=2)
    assert api.admission.limit == 5  # SQLite: 2 x 5, shared out between 2 processes
    m = await eu_monitor(store)
    await api.start("127.0.0.1", 0)
    engine = client(api.port)
    try:
        async with contextlib.AsyncExitStack() as slots:
            for _ in range(5):  # this process's five slots are taken: the next is refused
                await slots.enter_async_context(api.admission.slot())
            with pytest.raises(EngineError) as err:
                await engine.upload([result(m.id, utcnow())], HEALTH)
            assert err.value.throttled
        answer, _, _ = await engine.upload([result(m.id, utcnow())], HEALTH)
        assert answer["stored"] == 1
    finally:
        await api.stop()


async def test_in_a_deep_overload_no_runner_is_told_to_come_back_at_once() -> None:
    """Once the spread grew, the shortest wait told is half of it: runners queued behind
    thousands of others would only be refused again (and cost a TLS read and a parse)."""
    now = [0.0]
    admission = Admission(
        1,
        wait_s=0.0,
        max_waiting=0,
        retry_after_s=(1.0, 3.0),
        rng=lambda lo, _hi: lo,  # the shortest wait of the range
        clock=lambda: now[0],
    )
    assert admission.retry_after() == 1  # no overload measured: 1-3 s
    async with admission.slot():
        for _ in range(500):
            with pytest.raises(Overloaded):
                async with admission.slot():
                    pass
    now[0] = 1.0
    shortest = admission.retry_after()
    assert admission.spread_s > 3
    assert shortest >= admission.spread_s / 2
