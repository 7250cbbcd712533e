"""``Store.bucket_sketches``: per day or hour bucket, the merged latency sketch of a monitor's ok
checks from every region (SQLite, PostgreSQL and PgBouncer), as the component page's response
time chart reads it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from statpulse.engine.rollups import Resolution
from statpulse.engine.sketch import LatencySketch
from statpulse.store.sql import SqlStore
from tests.store.test_contract import config, result

MIDNIGHT = datetime(2026, 11, 21, tzinfo=UTC)


async def test_bucket_sketches_merge_regions_per_day_and_skip_failed_checks(
    store: SqlStore,
) -> None:
    org = await store.create_org("acme", "Acme")
    m = await store.create_monitor(org.id, config())
    other = await store.create_monitor(org.id, config("other"))
    late = MIDNIGHT - timedelta(minutes=5)  # the 20th
    early = MIDNIGHT + timedelta(hours=1, minutes=3)  # the 21st, 01:00 hour
    await store.add_results(
        [
            result(m.id, late, latency=10.0, region="eu"),
            result(m.id, late + timedelta(seconds=30), latency=30.0, region="us"),
            result(m.id, early, latency=200.0, region="eu"),
            result(m.id, early + timedelta(seconds=1), latency=400.0, region="us"),
            result(m.id, early + timedelta(seconds=2), ok=False, latency=9000.0, region="us"),
            result(other.id, early, latency=1.0),
        ]
    )
    days = await store.bucket_sketches(
        m.id, Resolution.DAY, MIDNIGHT - timedelta(days=1), MIDNIGHT + timedelta(days=1)
    )
    assert list(days) == [MIDNIGHT - timedelta(days=1), MIDNIGHT]
    assert days[MIDNIGHT - timedelta(days=1)] == LatencySketch.of([10.0, 30.0])
    assert days[MIDNIGHT] == LatencySketch.of([200.0, 400.0])  # the failed check has no latency
    assert days[MIDNIGHT].quantile(0.5) == 300.0

    hours = await store.bucket_sketches(
        m.id, Resolution.HOUR, MIDNIGHT - timedelta(hours=1), MIDNIGHT + timedelta(hours=2)
    )
    assert list(hours) == [MIDNIGHT - timedelta(hours=1), MIDNIGHT + timedelta(hours=1)]
    assert hours[MIDNIGHT + timedelta(hours=1)] == LatencySketch.of([200.0, 400.0])


async def test_bucket_sketches_read_only_buckets_starting_in_the_range(store: SqlStore) -> None:
    org = await store.create_org("acme", "Acme")
    m = await store.create_monitor(org.id, config())
    await store.add_results(
        [result(m.id, MIDNIGHT + timedelta(days=d, hours=12), latency=float(d)) for d in range(3)]
    )
    # [start, end): the day starting at `end` is out, as is the one before `start`.
    found = await store.bucket_sketches(
        m.id, Resolution.DAY, MIDNIGHT + timedelta(days=1), MIDNIGHT + timedelta(days=2)
    )
    assert list(found) == [MIDNIGHT + timedelta(days=1)]
    assert found[MIDNIGHT + timedelta(days=1)].min == 1.0
    assert await store.bucket_sketches(m.id, Resolution.DAY, MIDNIGHT, MIDNIGHT) == {}
    assert (
        await store.bucket_sketches(m.id, Resolution.MINUTE, MIDNIGHT - timedelta(days=1), MIDNIGHT)
        == {}
    )
