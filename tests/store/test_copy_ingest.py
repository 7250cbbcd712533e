"""Result ingest through COPY (PostgreSQL batches of ``copy_min_rows`` or more) and through
executemany store the same rows, idempotently, and roll up only the new ones.

Every test runs on SQLite too (where ``copy_min_rows`` changes nothing): both paths must agree
with the contract. ``copy_min_rows = 1`` sends every PostgreSQL batch through COPY.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import replace
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
import sqlalchemy as sa

from statpulse.model import CheckResult, ConditionResult, ErrorClass, Phases, new_id
from statpulse.store import schema as t
from statpulse.store.sql import SqlStore
from statpulse.store.sql_results import _INGEST_TABLE, COPY_MIN_ROWS
from tests.store.test_contract import T0, config, result
from tests.store.test_rollups import (
    assert_rollups_equal_recomputation,
    batches_with_replays,
    monitors,
    random_results,
    raw_rows,
)

PATHS = pytest.mark.parametrize("copy_min_rows", [1, 10**9], ids=["copy", "executemany"])


def failed(monitor_id: Any, seconds: int) -> CheckResult:
    """A failed check with every optional field set (conditions are stored as JSON)."""
    at = T0 + timedelta(seconds=seconds)
    return CheckResult(
        id=new_id(),
        monitor_id=monitor_id,
        region="us-east",
        scheduled_at=at,
        started_at=at + timedelta(microseconds=123_456),
        latency_ms=None,
        ok=False,
        status_code=503,
        phases=Phases(dns_ms=0.25, connect_ms=1.0, tls_ms=3.5, first_byte_ms=None),
        error_class=ErrorClass.HTTP_STATUS,
        error_message="[STATUS] (503) == 200 — ünïcode, 'quotes' and \\ backslash\n",
        conditions=(
            ConditionResult("[STATUS] == 200", False, "[STATUS] (503) == 200"),
            ConditionResult('[BODY].ok == "yes"', True, '[BODY].ok ("yes") == "yes"'),
        ),
        attempts=3,
    )


async def test_copy_is_used_for_big_batches_on_postgresql_only(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = await store.create_org("acme", "Acme")
    m = await store.create_monitor(org.id, config())
    calls: list[int] = []
    real = store._copy_results

    async def spy(conn: Any, rows: list[dict[str, Any]]) -> Any:
        calls.append(len(rows))
        return await real(conn, rows)

    monkeypatch.setattr(store, "_copy_results", spy)
    small = [result(m.id, T0 + timedelta(seconds=i)) for i in range(COPY_MIN_ROWS - 1)]
    big = [result(m.id, T0 + timedelta(hours=1, seconds=i)) for i in range(COPY_MIN_ROWS)]
    assert await store.add_results(small) == len(small)
    assert await store.add_results(big) == len(big)
    assert calls == ([COPY_MIN_ROWS] if store.dialect == "postgresql" else [])


@PATHS
async def test_a_batch_with_duplicates_and_replayed_ids_stores_each_id_once(
    store: SqlStore, copy_min_rows: int
) -> None:
    store.copy_min_rows = copy_min_rows
    org = await store.create_org("acme", "Acme")
    m = await store.create_monitor(org.id, config())
    first = [result(m.id, T0 + timedelta(seconds=10 * i)) for i in range(20)]
    assert await store.add_results(first) == 20
    fresh = [result(m.id, T0 + timedelta(seconds=500 + 10 * i), ok=i % 3 > 0) for i in range(15)]
    # 15 new (5 of them twice), 8 replayed from the first batch (2 of them twice).
    batch = [*fresh, *fresh[:5], *first[:8], *first[:2]]
    random.Random(1).shuffle(batch)
    assert await store.add_results(batch) == 15
    assert await store.add_results(batch) == 0  # the whole batch replayed
    stored = await store.recent_results(m.id, 1000)
    assert len(stored) == len({r.id for r in stored}) == 35
    assert sorted(stored, key=lambda r: r.id) == sorted([*first, *fresh], key=lambda r: r.id)
    days = await store.daily_uptime([m.id], T0 - timedelta(days=1), T0 + timedelta(days=1))
    assert sum(d.checks for d in days[m.id]) == 35  # rolled up once each
    assert sum(d.ok for d in days[m.id]) == 35 - 5


@PATHS
async def test_every_column_round_trips(store: SqlStore, copy_min_rows: int) -> None:
    store.copy_min_rows = copy_min_rows
    org = await store.create_org("acme", "Acme")
    m = await store.create_monitor(org.id, config())
    results = [failed(m.id, 0), result(m.id, T0 + timedelta(seconds=1), latency=None)]
    results.append(result(m.id, T0 + timedelta(seconds=2), latency=0.001, degraded=True))
    assert await store.add_results(results) == 3
    assert sorted(await store.recent_results(m.id, 10), key=lambda r: r.id) == sorted(
        results, key=lambda r: r.id
    )


async def test_both_paths_store_identical_rows(store: SqlStore) -> None:
    """Twin batches (same values, other ids and times) through each path: the stored columns,
    compared as the database holds them (a healthy result's conditions included: JSON null,
    as the executemany path has always stored it), are the same."""
    org = await store.create_org("acme", "Acme")
    m = await store.create_monitor(org.id, config())

    def batch(offset: int) -> list[CheckResult]:
        at = T0 + timedelta(hours=offset)
        return [
            failed(m.id, 3600 * offset),
            result(m.id, at + timedelta(seconds=1), latency=None),
            result(m.id, at + timedelta(seconds=2), latency=0.001, degraded=True),
        ]

    store.copy_min_rows = 10**9
    await store.add_results(batch(0))
    store.copy_min_rows = 1
    await store.add_results(batch(1))
    c = t.check_results.c
    columns = [col for col in t.check_results.columns if col.name not in ("id", "started_at")]
    shown = [sa.cast(col, sa.Text) if col.name != "conditions" else col for col in columns]
    query = sa.select(*shown, c.conditions.is_(None)).order_by(c.started_at)
    async with store.engine.connect() as conn:
        rows = [tuple(row) for row in await conn.execute(query)]
    assert len(rows) == 6
    first, second = rows[:3], rows[3:]
    names = [col.name for col in columns]
    for a, b in zip(first, second, strict=True):
        differing = [n for n, x, y in zip(names, a, b, strict=False) if x != y]
        assert differing == ["scheduled_at"], (a, b)
        assert a[-1] == b[-1]


@pytest.mark.parametrize("seed", [1, 2])
async def test_rollups_of_copied_batches_equal_recomputation(store: SqlStore, seed: int) -> None:
    store.copy_min_rows = 1
    rng = random.Random(seed)
    intervals = await monitors(store)
    results = random_results(rng, list(intervals), 300)
    new = 0
    for batch in batches_with_replays(rng, results):
        new += await store.add_results(batch)
    assert new == len(results) == len(await raw_rows(store))
    await assert_rollups_equal_recomputation(store, intervals)


async def test_concurrent_copied_batches_of_the_same_ids(store: SqlStore) -> None:
    store.copy_min_rows = 1
    rng = random.Random(3)
    intervals = await monitors(store)
    results = random_results(rng, list(intervals), 300)
    batches = [rng.sample(results, len(results) // 3) for _ in range(6)]
    covered = {r.id for b in batches for r in b}
    batches.append([r for r in results if r.id not in covered])
    counts = await asyncio.gather(*(store.add_results(b) for b in batches))
    assert sum(counts) == len(results)
    await assert_rollups_equal_recomputation(store, intervals)


async def test_a_failed_copy_leaves_nothing_and_the_retry_works(store: SqlStore) -> None:
    store.copy_min_rows = 1
    org = await store.create_org("acme", "Acme")
    m = await store.create_monitor(org.id, config())
    good = [result(m.id, T0 + timedelta(seconds=i)) for i in range(10)]
    bad = replace(result(m.id, T0), region="x" * 65)  # longer than String(64)
    if store.dialect == "postgresql":  # (SQLite does not enforce lengths)
        # COPY runs on the driver connection: its error is asyncpg's own.
        with pytest.raises((sa.exc.DBAPIError, asyncpg.PostgresError), match="too long"):
            await store.add_results([*good, bad])
        assert await store.recent_results(m.id, 100) == []
    # The temporary table went with the failed transaction: the next batch creates it afresh.
    assert await store.add_results(good) == 10
    assert await store.add_results(good) == 0
    async with store.engine.connect() as conn:
        if store.dialect == "postgresql":
            exists = sa.text("SELECT to_regclass(:name) IS NOT NULL")
            assert (await conn.execute(exists, {"name": _INGEST_TABLE})).scalar() is False
