"""Rollups kept at ingest equal a recomputation from the stored results (SQLite and PostgreSQL).

The data is random but seeded: results cross minute, hour and day boundaries, arrive late (in
shuffled batches) and are replayed (ids seen in earlier batches and twice in one batch). The
expected rollups are recomputed from the rows in ``check_results`` with plain loops; counts and
sketches must be equal exactly, quantiles within 1 % of the exact percentiles.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from statpulse.engine.rollup_query import plan, summarize_rollups
from statpulse.engine.rollups import Resolution, floor_to
from statpulse.engine.sketch import LatencySketch
from statpulse.engine.stats import percentile, summarize_by_region
from statpulse.model import CheckResult, MonitorConfig, new_id, utcnow
from statpulse.store import schema as t
from statpulse.store.migrate import upgrade
from statpulse.store.sql import SqlStore, open_store
from statpulse.store.sql_monitors import config_values
from statpulse.store.sql_results import result_row
from statpulse.store.sql_rollups import ROLLUP_TABLES
from tests.conftest import drop_pg_database, fresh_pg_database

T0 = datetime(2026, 11, 20, 22, 58, 30, tzinfo=UTC)
SPAN = timedelta(hours=3)  # crosses 23:00, midnight (a new day) and 01:00
GHOST = uuid.UUID(int=7)  # results of a monitor that does not exist (deleted): 0 s downtime

Key = tuple[uuid.UUID, datetime, str]
Expected = tuple[int, int, int, int, LatencySketch]


async def monitors(store: SqlStore) -> dict[uuid.UUID, int]:
    """Two monitors (30 s and 60 s intervals); returns their intervals by id."""
    org = await store.create_org("acme", "Acme")
    intervals = {}
    for name, interval in (("fast", 30), ("slow", 60)):
        config = MonitorConfig(
            name=name, kind="http", target="https://example.com", interval_s=interval
        )
        intervals[(await store.create_monitor(org.id, config)).id] = interval
    return intervals


async def monitors_at_0003(store: SqlStore) -> dict[uuid.UUID, int]:
    """``monitors`` written with the columns revision 0003 has (later ones are left out)."""
    org = await store.create_org("acme", "Acme")
    intervals, now = {}, utcnow()
    async with store.engine.begin() as conn:
        for name, interval in (("fast", 30), ("slow", 60)):
            config = MonitorConfig(
                name=name, kind="http", target="https://example.com", interval_s=interval
            )
            values = {k: v for k, v in config_values(config).items() if k not in LATER_COLUMNS}
            monitor_id = new_id()
            await conn.execute(
                t.monitors.insert().values(
                    id=monitor_id, org_id=org.id, paused=False, status="unknown",
                    status_changed_at=now, created_at=now, updated_at=now, **values,
                )
            )  # fmt: skip
            intervals[monitor_id] = interval
    return intervals


LATER_COLUMNS = {"depends_on", "confirm_s"}  # added by migration 0011


def random_results(rng: random.Random, monitor_ids: Sequence[uuid.UUID], n: int) -> list[Any]:
    edges = [T0 + timedelta(seconds=90), T0 + timedelta(seconds=61 * 60 + 30)]  # 23:00, 00:00
    results = []
    for _ in range(n):
        if rng.random() < 0.1:  # exactly on a boundary, or the last µs before it
            at = rng.choice(edges) - timedelta(microseconds=rng.choice((0, 1)))
        else:
            at = T0 + timedelta(microseconds=rng.randrange(int(SPAN / timedelta(microseconds=1))))
        ok = rng.random() < 0.8
        latency = None if rng.random() < 0.05 else round(rng.lognormvariate(4, 1), 3)
        results.append(
            CheckResult(
                id=new_id(),
                monitor_id=rng.choice([*monitor_ids, GHOST]),
                region=rng.choice(("eu", "us", "ap")),
                scheduled_at=at,
                started_at=at,
                latency_ms=latency,
                ok=ok,
                degraded=ok and rng.random() < 0.1,
            )
        )
    return results


def batches_with_replays(rng: random.Random, results: list[Any]) -> list[list[Any]]:
    """Shuffled (so later batches bring older results), with ids from earlier batches and
    duplicates within a batch."""
    shuffled = rng.sample(results, len(results))
    batches: list[list[Any]] = []
    sent: list[Any] = []
    while shuffled:
        batch = [shuffled.pop() for _ in range(min(len(shuffled), rng.randint(1, 40)))]
        batch += rng.sample(sent, min(len(sent), rng.randint(0, 5)))  # replayed uploads
        batch += rng.sample(batch, min(len(batch), rng.randint(0, 2)))  # twice in one batch
        sent += batch
        batches.append(rng.sample(batch, len(batch)))
    batches.append(rng.sample(sent, min(len(sent), 30)))  # a whole batch seen before
    return batches


async def raw_rows(store: SqlStore) -> list[sa.Row[Any]]:
    r = t.check_results.c
    query = sa.select(r.monitor_id, r.region, r.started_at, r.ok, r.degraded, r.latency_ms)
    async with store.engine.connect() as conn:
        return list(await conn.execute(query))


def recompute(
    rows: Sequence[sa.Row[Any]], resolution: Resolution, intervals: dict[uuid.UUID, int]
) -> tuple[dict[Key, Expected], dict[Key, list[float]]]:
    """The rollups of ``rows`` by plain loops, and the ok latencies of every bucket."""
    checks: dict[Key, int] = defaultdict(int)
    ok: dict[Key, int] = defaultdict(int)
    degraded: dict[Key, int] = defaultdict(int)
    down: dict[Key, int] = defaultdict(int)
    latencies: dict[Key, list[float]] = defaultdict(list)
    for row in rows:
        key = (row.monitor_id, floor_to(row.started_at, resolution), row.region)
        checks[key] += 1
        ok[key] += row.ok
        degraded[key] += row.ok and row.degraded
        down[key] += 0 if row.ok else intervals.get(row.monitor_id, 0)
        if row.ok and row.latency_ms is not None:
            latencies[key].append(row.latency_ms)
    expected = {
        k: (checks[k], ok[k], degraded[k], down[k], LatencySketch.of(latencies[k])) for k in checks
    }
    return expected, latencies


async def stored(store: SqlStore, resolution: Resolution) -> dict[Key, Expected]:
    async with store.engine.connect() as conn:
        rows = await conn.execute(sa.select(ROLLUP_TABLES[resolution]))
        return {
            (r.monitor_id, r.bucket_start, r.region): (
                r.checks,
                r.ok,
                r.degraded,
                r.down_s,
                LatencySketch.from_bytes(r.sketch),
            )
            for r in rows
        }


def assert_close(got: float | None, want: float | None) -> None:
    """Within the sketch's 1 % (plus float rounding)."""
    assert (got is None) == (want is None)
    if want is not None:
        assert got == pytest.approx(want, rel=0.01, abs=1e-9)


async def assert_rollups_equal_recomputation(
    store: SqlStore, intervals: dict[uuid.UUID, int]
) -> None:
    rows = await raw_rows(store)
    for resolution in Resolution:
        expected, latencies = recompute(rows, resolution, intervals)
        got = await stored(store, resolution)
        assert got == expected, resolution
        for key, (*_, sketch) in got.items():
            values = sorted(latencies[key])
            for q in (50, 95, 99):
                assert_close(sketch.quantile(q / 100), percentile(values, q))


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_rollups_equal_recomputation_after_duplicates_and_late_arrivals(
    store: SqlStore, seed: int
) -> None:
    rng = random.Random(seed)
    intervals = await monitors(store)
    results = random_results(rng, list(intervals), 400)
    new = 0
    for batch in batches_with_replays(rng, results):
        new += await store.add_results(batch)
    assert new == len(results) == len(await raw_rows(store))
    await assert_rollups_equal_recomputation(store, intervals)


async def test_concurrent_ingest_of_overlapping_batches_loses_nothing(store: SqlStore) -> None:
    rng = random.Random(4)
    intervals = await monitors(store)
    results = random_results(rng, list(intervals), 300)
    # Eight ingesters at once, every result in two of their batches: same buckets, same ids.
    batches = [rng.sample(results, len(results) // 4) for _ in range(8)]
    covered = {r.id for b in batches for r in b}
    batches.append([r for r in results if r.id not in covered])
    counts = await asyncio.gather(*(store.add_results(b) for b in batches))
    assert sum(counts) == len(results)
    await assert_rollups_equal_recomputation(store, intervals)


async def test_a_failed_batch_leaves_results_and_rollups_untouched(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(5)
    intervals = await monitors(store)
    first, second = (
        random_results(rng, list(intervals), 50),
        random_results(rng, list(intervals), 50),
    )
    await store.add_results(first)
    before = {res: await stored(store, res) for res in Resolution}
    real = store._add_groups
    calls = 0

    async def fail_on_the_hour_table(*args: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:  # the minute rollups are written by now
            raise RuntimeError("disk full")
        await real(*args)

    monkeypatch.setattr(store, "_add_groups", fail_on_the_hour_table)
    with pytest.raises(RuntimeError, match="disk full"):
        await store.add_results(second)
    monkeypatch.undo()
    assert {res: await stored(store, res) for res in Resolution} == before
    assert len(await raw_rows(store)) == len(first)
    assert await store.add_results([*first, *second]) == len(second)  # the runner's retry
    await assert_rollups_equal_recomputation(store, intervals)


async def test_range_stats_from_rollups_match_raw_stats(store: SqlStore) -> None:
    rng = random.Random(6)
    intervals = await monitors(store)
    monitor_id, interval = next(iter(intervals.items()))
    await store.add_results(random_results(rng, [monitor_id], 600))
    for _ in range(25):
        start = T0 + timedelta(seconds=rng.uniform(-600, SPAN.total_seconds()))
        end = start + timedelta(seconds=rng.choice((30, 90, 3600, 7300, 86400)) * rng.random())
        overall, regions = summarize_rollups(
            await store.range_rollups(monitor_id, plan(start, end))
        )
        samples = await store.latency_samples(monitor_id, start, end)
        raw_overall, raw_regions = summarize_by_region(samples)
        assert regions.keys() == raw_regions.keys()
        for got, want in [(overall, raw_overall), *((regions[r], raw_regions[r]) for r in regions)]:
            assert (got.checks, got.ok, got.uptime_pct) == (want.checks, want.ok, want.uptime_pct)
            assert_close(got.p50_ms, want.p50_ms)
            assert_close(got.p95_ms, want.p95_ms)
            assert_close(got.p99_ms, want.p99_ms)
        for name, stats in regions.items():
            failed = sum(not s.ok for s in samples if s.region == name)
            assert stats.downtime_s == failed * interval


async def test_daily_uptime_from_rollups_equals_the_raw_count(store: SqlStore) -> None:
    rng = random.Random(7)
    intervals = await monitors(store)
    await store.add_results(random_results(rng, list(intervals), 300))
    start, end = floor_to(T0, Resolution.DAY), floor_to(T0, Resolution.DAY) + timedelta(days=2)
    ids = [*intervals, GHOST]
    assert await store.daily_uptime(ids, start, end) == await store.daily_uptime_raw(
        ids, start, end
    )


async def test_deleting_a_monitor_deletes_its_rollups(store: SqlStore) -> None:
    rng = random.Random(8)
    intervals = await monitors(store)
    await store.add_results(random_results(rng, list(intervals), 100))
    gone, kept = list(intervals)
    org = await store.create_org("other", "Other")
    assert not await store.delete_monitor(org.id, gone)  # another tenant's: untouched
    monitor = await store.monitors_by_id([gone])
    assert await store.delete_monitor(monitor[gone].org_id, gone)
    for resolution in Resolution:
        owners = {key[0] for key in await stored(store, resolution)}
        assert gone not in owners and kept in owners


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store_at_0003(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SqlStore]:
    """A store migrated to the revision before rollups existed."""
    if request.param == "sqlite":
        url, cleanup = f"sqlite:///{tmp_path / 'old.db'}", None
    else:
        server = request.getfixturevalue("pg_server_url")
        url, name = fresh_pg_database(server)
        cleanup = (server, name)
    store = await open_store(url, migrate=False)
    try:
        await upgrade(store.engine, "0003")
        yield store
    finally:
        await store.close()
        if cleanup:
            drop_pg_database(*cleanup)


async def test_the_migration_rolls_up_results_stored_before_it(store_at_0003: SqlStore) -> None:
    store = store_at_0003
    rng = random.Random(9)
    intervals = await monitors_at_0003(store)
    results = random_results(rng, list(intervals), 500)
    async with store.engine.begin() as conn:
        await conn.execute(t.check_results.insert(), [result_row(r) for r in results])
    await upgrade(store.engine)
    await assert_rollups_equal_recomputation(store, intervals)
    assert await store.add_results(results[:10]) == 0  # already rolled up: nothing added twice
    await assert_rollups_equal_recomputation(store, intervals)
