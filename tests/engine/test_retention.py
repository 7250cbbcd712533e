"""Retention on both databases: raw days archived then removed, rollups by resolution, the
archive round trip, and nothing removed when the export fails."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from statpulse.archive.query import query as archive_query
from statpulse.archive.target import ArchiveTarget
from statpulse.engine.retention import RetentionJob, RetentionPolicy, run_retention
from statpulse.model import MonitorConfig
from statpulse.settings import Settings
from statpulse.store import schema as t
from statpulse.store.sql import SqlStore
from statpulse.store.sql_results import result_row
from tests.store.test_contract import result

DAY0 = date(2026, 3, 7)
DAYS = [DAY0 + timedelta(n) for n in range(4)]


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


async def seed(store: SqlStore) -> tuple[uuid.UUID, list[object]]:
    org = await store.create_org("acme", "Acme")
    config = MonitorConfig(name="api", kind="http", target="https://example.com", interval_s=60)
    mid = (await store.create_monitor(org.id, config)).id
    other = (await store.create_monitor(org.id, config)).id
    results = [
        result(m, at(d, h, minute), ok=h != 12, region=region)
        for d in DAYS
        for h in (0, 12, 23)
        for minute in (0, 30)
        for m in (mid, other)
        for region in ("eu", "us")
    ]
    await store.add_results(results)
    return mid, results  # type: ignore[return-value]


async def count(store: SqlStore, table: sa.Table) -> int:
    async with store.engine.connect() as conn:
        return int(await conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0)


async def test_expired_days_are_archived_then_removed(store: SqlStore, tmp_path: Path) -> None:
    mid, results = await seed(store)
    archive = ArchiveTarget.from_url(str(tmp_path / "archive"))
    now = at(DAYS[3], 6)  # raw_days=1: the 7th and 8th have expired (the 9th is partly recent)
    report = await run_retention(store, RetentionPolicy(raw_days=1), archive, now)

    assert [(d, n) for d, n, _ in report.expired] == [(DAYS[0], 24), (DAYS[1], 24)]
    assert await count(store, t.check_results) == 48
    assert archive.days() == DAYS[:2]
    # The archive holds exactly the removed rows, as they were stored.
    archived = archive_query(archive, mid, at(DAYS[0], 0), at(DAYS[3], 0))
    expected = sorted(
        (result_row(r) for r in results if r.monitor_id == mid and r.started_at < at(DAYS[2], 0)),  # type: ignore[attr-defined]
        key=lambda row: (row["started_at"], row["id"]),
    )
    assert archived == expected
    # Rollups stay: the 90-day bars and the stats still count the expired days.
    assert await count(store, t.rollups_day) == 16
    expired = await store.expired_days()
    assert [(e["day"], e["rows"]) for e in expired] == [(DAYS[0], 24), (DAYS[1], 24)]
    assert all(e["archive_path"].endswith("results.parquet") for e in expired)
    # A second run has nothing left to do.
    again = await run_retention(store, RetentionPolicy(raw_days=1), archive, now)
    assert again.expired == []


async def test_rollups_expire_by_resolution(store: SqlStore) -> None:
    await seed(store)
    policy = RetentionPolicy(raw_days=30, minute_days=2, hour_days=3)
    report = await run_retention(store, policy, None, at(DAYS[3], 6))
    # Minute rollups before the 8th 06:00 go (7th: 3 hours x 2 minutes x 2 monitors x 2 regions,
    # 8th 00:00 and 00:30: 8), hour rollups before the 7th 06:00 (7th 00:00: 4).
    assert report.rollups_deleted == {"rollups_minute": 32, "rollups_hour": 4}
    assert report.expired == []


async def test_without_an_archive_expired_days_are_only_recorded(store: SqlStore) -> None:
    await seed(store)
    report = await run_retention(store, RetentionPolicy(raw_days=2), None, at(DAYS[3], 6))
    assert report.expired == [(DAYS[0], 24, None)]
    assert await count(store, t.check_results) == 72


async def test_a_failed_export_removes_nothing(store: SqlStore, tmp_path: Path) -> None:
    _, results = await seed(store)
    blocker = tmp_path / "archive"
    blocker.write_text("a file where the archive directory should be")
    archive = ArchiveTarget.from_url(str(blocker))
    with pytest.raises(OSError):  # noqa: PT011 (the file system's own error)
        await run_retention(store, RetentionPolicy(raw_days=2), archive, at(DAYS[3], 6))
    assert await count(store, t.check_results) == len(results)
    assert await store.expired_days() == []


async def test_ingest_refuses_results_of_expired_days(store: SqlStore) -> None:
    mid, _ = await seed(store)
    await run_retention(store, RetentionPolicy(raw_days=2), None, at(DAYS[3], 6))
    late = [result(mid, at(DAYS[0], 5)), result(mid, at(DAYS[1], 5))]
    assert await store.add_results(late) == 1  # only the one of a kept day
    assert await count(store, t.check_results) == 73


async def test_the_job_runs_at_start_and_stops(store: SqlStore) -> None:
    await seed(store)
    job = RetentionJob(store, RetentionPolicy(raw_days=2), None, 3600, lambda: at(DAYS[3], 6))
    await job.start()
    try:
        for _ in range(200):
            if job.last_report is not None:
                break
            await asyncio.sleep(0.01)
    finally:
        await job.stop()
    assert job.last_report is not None
    assert [d for d, _, _ in job.last_report.expired] == [DAYS[0]]


def test_day_rollups_must_outlive_raw_results() -> None:
    with pytest.raises(ValueError, match="retention_day_days"):
        RetentionPolicy(raw_days=30, day_days=7)
    with pytest.raises(ValueError, match="retention_day_days"):
        Settings(retention_day_days=7)
