"""The store through PgBouncer (Debian's 1.18) in transaction pooling mode.

The whole store suite also runs through PgBouncer (the ``store`` fixture's ``pgbouncer``
param); these tests prove the pool really is transaction pooling with fewer server connections
than clients, that concurrent COPY and executemany ingest (with partition creation under
``pg_advisory_xact_lock``) stores every result once there, that no prepared statement outlives
its transaction, and that without ``create_engine(pgbouncer=True)`` asyncpg's statements break.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import timedelta

import asyncpg
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from statpulse.model import CheckResult
from statpulse.store import schema as t
from statpulse.store.engine import create_engine
from statpulse.store.sql import SqlStore, open_store
from statpulse.store.sql_results import COPY_MIN_ROWS
from tests.conftest import PGBOUNCER_POOL_SIZE, truncate_all
from tests.pgbouncer import PgBouncer, admin_command, admin_show
from tests.store.test_rollups import assert_rollups_equal_recomputation, monitors, random_results

pytestmark = pytest.mark.postgres

DATABASE = "statpulse"
"""The [databases] alias of the test database (conftest.pgbouncer)."""


@pytest.fixture
async def store(pgbouncer_url: str) -> AsyncIterator[SqlStore]:
    s = await open_store(pgbouncer_url, migrate=False, pgbouncer=True)
    await truncate_all(s)
    try:
        yield s
    finally:
        await s.close()


async def pool(bouncer: PgBouncer) -> dict[str, str | None]:
    """The test database's row of ``SHOW POOLS`` (PgBouncer creates it with its first client)."""
    (row,) = [r for r in await admin_show(bouncer, "POOLS") if r["database"] == DATABASE]
    return row


def servers(row: dict[str, str | None]) -> int:
    return sum(
        int(row[k] or 0) for k in ("sv_active", "sv_idle", "sv_used", "sv_tested", "sv_login")
    )


def clients(row: dict[str, str | None]) -> int:
    return int(row["cl_active"] or 0) + int(row["cl_waiting"] or 0)


async def test_the_pool_is_in_transaction_mode(pgbouncer: PgBouncer, pgbouncer_url: str) -> None:
    client = await asyncpg.connect(pgbouncer_url, statement_cache_size=0)
    try:
        assert (await pool(pgbouncer))["pool_mode"] == "transaction"
    finally:
        await client.close()


async def test_one_client_runs_its_transactions_on_different_server_connections(
    pgbouncer: PgBouncer, pgbouncer_url: str
) -> None:
    """A's first transaction and B's overlap, so they hold two servers; PgBouncer hands out
    the most recently released server next (LIFO), B's, to A's second transaction."""
    a = await asyncpg.connect(pgbouncer_url, statement_cache_size=0)
    b = await asyncpg.connect(pgbouncer_url, statement_cache_size=0)
    try:
        pid = "SELECT pg_backend_pid()"
        await a.execute("BEGIN")
        first = await a.fetchval(pid)
        await b.execute("BEGIN")
        other = await b.fetchval(pid)
        await a.execute("COMMIT")
        await b.execute("COMMIT")
        second = await a.fetchval(pid)
    finally:
        await a.close()
        await b.close()
    assert first != other
    assert second != first  # session pooling would have kept A on its first server


async def test_concurrent_copy_and_executemany_batches_through_a_small_pool_store_each_result_once(
    store: SqlStore, pgbouncer: PgBouncer
) -> None:
    """24 tasks (up to 20 client connections: the engine's pool) over 3 server connections:
    COPY batches and small executemany batches, spread over 5 days whose partitions the tasks
    create concurrently, then all of it replayed concurrently (nothing new is stored)."""
    rng = random.Random(1837)
    intervals = await monitors(store)
    ids = list(intervals)

    def results(task: int, n: int) -> list[CheckResult]:
        shift = timedelta(days=task % 4)  # days partitioned on demand, concurrently
        return [
            replace(r, scheduled_at=r.scheduled_at + shift, started_at=r.started_at + shift)
            for r in random_results(rng, ids, n)
        ]

    copy_batches = [[results(task, COPY_MIN_ROWS + 50) for _ in range(2)] for task in range(8)]
    small_batches = [[results(task, 5) for _ in range(8)] for task in range(16)]
    tasks = [*copy_batches, *small_batches]
    everything = {r.id for batches in tasks for batch in batches for r in batch}

    async def ingest(batches: list[list[CheckResult]]) -> int:
        return sum([await store.add_results(batch) for batch in batches])

    seen: list[dict[str, str | None]] = []

    async def watch(done: asyncio.Event) -> None:
        while not done.is_set():
            seen.append(await pool(pgbouncer))
            await asyncio.sleep(0.01)

    async def under_watch(work: Callable[[], Awaitable[list[int]]]) -> list[int]:
        done = asyncio.Event()
        watcher = asyncio.create_task(watch(done))
        try:
            return await work()
        finally:
            done.set()
            await watcher

    stored = await under_watch(lambda: asyncio.gather(*(ingest(b) for b in tasks)))
    assert sum(stored) == len(everything)
    replayed = await under_watch(lambda: asyncio.gather(*(ingest(b[:2]) for b in tasks)))
    assert replayed == [0] * len(tasks)

    async with store.engine.connect() as conn:
        count = await conn.scalar(sa.select(sa.func.count()).select_from(t.check_results))
    assert count == len(everything)
    assert len(await store.partition_days()) >= 5
    await assert_rollups_equal_recomputation(store, intervals)
    assert max(servers(row) for row in seen) <= PGBOUNCER_POOL_SIZE
    assert max(clients(row) for row in seen) > PGBOUNCER_POOL_SIZE


async def test_no_prepared_statement_outlives_its_transaction(
    store: SqlStore, pgbouncer: PgBouncer
) -> None:
    """After COPY and executemany ingest, every server connection of the pool (one
    transaction holds each) has no prepared statement left behind."""
    # Fresh server connections: other tests' engines (without the options) may have left some.
    await admin_command(pgbouncer, f"RECONNECT {DATABASE}")
    intervals = await monitors(store)
    rng = random.Random(7)
    batches = [random_results(rng, list(intervals), n) for n in (3, COPY_MIN_ROWS, 3)] * 4
    await asyncio.gather(*(store.add_results(b) for b in batches))

    barrier = asyncio.Barrier(PGBOUNCER_POOL_SIZE)

    async def statements_left() -> tuple[int, int]:
        async with store.engine.begin() as conn:
            row = (
                await conn.execute(
                    sa.text("SELECT pg_backend_pid(), count(*) FROM pg_prepared_statements")
                )
            ).one()
            await barrier.wait()  # all servers held at once: each answer is another server's
            return row[0], row[1]

    answers = await asyncio.gather(*(statements_left() for _ in range(PGBOUNCER_POOL_SIZE)))
    assert len({pid for pid, _ in answers}) == PGBOUNCER_POOL_SIZE
    assert [n for _, n in answers] == [0] * PGBOUNCER_POOL_SIZE


async def _interleave(engine: AsyncEngine) -> None:
    """Connection A runs a statement in two transactions; B's transaction overlaps A's first,
    so A's second one lands on the server B used (see the LIFO test above)."""
    query = sa.select(sa.literal(1, sa.Integer) + sa.bindparam("x", type_=sa.Integer))
    async with engine.connect() as a, engine.connect() as b:
        await a.execute(query, {"x": 1})
        await b.execute(query, {"x": 2})
        await a.commit()
        await b.commit()
        await a.execute(query, {"x": 3})
        await a.commit()


@pytest.mark.parametrize("pgbouncer_options", [True, False], ids=["options", "no-options"])
async def test_asyncpg_statements_need_the_pgbouncer_options(
    pgbouncer_url: str, pgbouncer_options: bool
) -> None:
    engine = create_engine(pgbouncer_url, pgbouncer=pgbouncer_options)
    try:
        if pgbouncer_options:
            await _interleave(engine)
        else:
            with pytest.raises(sa.exc.DBAPIError, match=r"prepared statement .* does not exist"):
                await _interleave(engine)
    finally:
        await engine.dispose()
