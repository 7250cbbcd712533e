"""PostgreSQL daily partitions of check_results: migration, on-demand creation, retention drops
them across day boundaries (fake clock), ingest refuses results of expired days."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from statpulse.archive.query import query as archive_query
from statpulse.archive.target import ArchiveTarget
from statpulse.engine.retention import RetentionPolicy, run_retention
from statpulse.model import MonitorConfig, utcnow
from statpulse.store import partitions as p
from statpulse.store import schema as t
from statpulse.store.engine import create_engine
from statpulse.store.migrate import upgrade
from statpulse.store.sql import SqlStore, open_store
from statpulse.store.sql_retention import ExpiryMismatch
from tests.conftest import drop_pg_database, fresh_pg_database
from tests.store.test_contract import result

pytestmark = pytest.mark.postgres

DAY0 = date(2026, 3, 7)


@pytest.fixture
async def pg_fresh(pg_server_url: str) -> AsyncIterator[str]:
    url, name = fresh_pg_database(pg_server_url)
    yield url
    drop_pg_database(pg_server_url, name)


@pytest.fixture
async def store(pg_fresh: str) -> AsyncIterator[SqlStore]:
    s = await open_store(pg_fresh)
    try:
        yield s
    finally:
        await s.close()


async def monitor_id(store: SqlStore) -> object:
    org = await store.create_org("acme", "Acme")
    config = MonitorConfig(name="api", kind="http", target="https://example.com", interval_s=60)
    return (await store.create_monitor(org.id, config)).id


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


async def partition_rows(store: SqlStore) -> dict[str, int]:
    counts = {}
    async with store.engine.connect() as conn:
        for day in await store.partition_days():
            name = p.partition_name(day)
            counts[name] = await conn.scalar(sa.text(f"SELECT count(*) FROM {name}"))
    return {k: v for k, v in counts.items() if v}


async def test_migration_moves_existing_results_into_day_partitions(pg_fresh: str) -> None:
    engine = create_engine(pg_fresh)
    try:
        await upgrade(engine, "0005")
        async with engine.begin() as conn:
            for n, when in enumerate((at(DAY0, 0), at(DAY0, 23, 59), at(DAY0 + timedelta(2), 12))):
                await conn.execute(
                    sa.text(
                        "INSERT INTO check_results (id, monitor_id, region, scheduled_at, "
                        "started_at, ok, degraded, attempts) VALUES "
                        "(gen_random_uuid(), :m, 'eu', :at, :at, true, false, 1)"
                    ),
                    {"m": f"00000000-0000-0000-0000-00000000000{n}", "at": when},
                )
        await upgrade(engine)
    finally:
        await engine.dispose()
    store = await open_store(pg_fresh)
    try:
        assert await store.results_layout() is p.Layout.PARTITIONED
        days = await store.partition_days()
        today = utcnow().date()
        assert {DAY0, DAY0 + timedelta(2)} <= set(days)
        assert {today + timedelta(n) for n in range(8)} <= set(days)
        assert DAY0 + timedelta(1) not in days  # no result that day: no partition
        assert await partition_rows(store) == {
            p.partition_name(DAY0): 2,
            p.partition_name(DAY0 + timedelta(2)): 1,
        }
    finally:
        await store.close()


async def test_ingest_creates_a_missing_day_partition(store: SqlStore) -> None:
    mid = await monitor_id(store)
    assert DAY0 not in await store.partition_days()
    # The last microsecond of one day and the first of the next go to two partitions.
    late = at(DAY0, 23, 59) + timedelta(seconds=59, microseconds=999_699)  # started +300 µs
    results = [result(mid, late), result(mid, at(DAY0 + timedelta(1), 0))]  # type: ignore[arg-type]
    assert await store.add_results(results) == 2
    assert await store.add_results(results) == 0  # replay: stored once
    assert await partition_rows(store) == {
        p.partition_name(DAY0): 1,
        p.partition_name(DAY0 + timedelta(1)): 1,
    }


async def test_retention_drops_partitions_across_day_boundaries(
    store: SqlStore, tmp_path: Path
) -> None:
    mid = await monitor_id(store)
    days = [DAY0 + timedelta(n) for n in range(4)]  # 7th .. 10th of March
    results = [result(mid, at(d, h)) for d in days for h in (0, 12, 23)]  # type: ignore[arg-type]
    await store.add_results(results)
    archive = ArchiveTarget.from_url(str(tmp_path / "archive"))
    policy = RetentionPolicy(raw_days=2, partitions_ahead_days=3)

    # One second before midnight of the 10th: days before the 8th are wholly > 2 days old.
    now = at(days[3], 23, 59) + timedelta(seconds=59)
    report = await run_retention(store, policy, archive, now)
    assert [(d, n) for d, n, _ in report.expired] == [(days[0], 3)]
    assert report.partitions_created == [days[3] + timedelta(n) for n in range(1, 4)]
    assert days[0] not in await store.partition_days()
    assert archive.days() == [days[0]]

    # Two seconds later it is the 11th: the 8th goes too.
    report = await run_retention(store, policy, archive, now + timedelta(seconds=2))
    assert [d for d, _, _ in report.expired] == [days[1]]
    assert report.partitions_created == [days[3] + timedelta(4)]
    assert set(await partition_rows(store)) == {p.partition_name(d) for d in days[2:]}

    archived = archive_query(archive, mid, at(days[0], 0), at(days[2], 0))  # type: ignore[arg-type]
    assert [r["id"] for r in archived] == [r.id for r in results[:6]]
    assert [e["day"] for e in await store.expired_days()] == days[:2]

    # A late result of an expired day is refused, and its partition is not recreated.
    assert await store.add_results([result(mid, at(days[0], 6))]) == 0  # type: ignore[arg-type]
    assert days[0] not in await store.partition_days()
    # A run with nothing to do changes nothing.
    report = await run_retention(store, policy, archive, now + timedelta(seconds=3))
    assert report.expired == []


async def test_expiry_removes_nothing_when_the_export_missed_rows(store: SqlStore) -> None:
    mid = await monitor_id(store)
    await store.add_results([result(mid, at(DAY0, h)) for h in (1, 2)])  # type: ignore[arg-type]
    with pytest.raises(ExpiryMismatch):
        await store.expire_day(DAY0, 1)
    assert await partition_rows(store) == {p.partition_name(DAY0): 2}
    assert await store.expired_days() == []


async def test_rollups_survive_the_partition_drop(store: SqlStore) -> None:
    mid = await monitor_id(store)
    await store.add_results([result(mid, at(DAY0, h)) for h in (1, 2)])  # type: ignore[arg-type]
    sizes = await store.storage_bytes()
    assert sizes["check_results"] > 0 and sizes["rollups_day"] > 0  # partitions, plain tables
    assert await store.expire_day(DAY0, None) == 2
    async with store.engine.connect() as conn:
        checks = await conn.scalar(sa.select(sa.func.sum(t.rollups_day.c.checks)))
    assert checks == 2
    assert (await store.storage_bytes())["check_results"] < sizes["check_results"]
