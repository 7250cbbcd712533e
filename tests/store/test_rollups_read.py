"""Range reads of rollups (SQLite and PostgreSQL): repeated reads of the same closed days (served
from the merged day-sketch cache) always answer as the stored rows do, also after a late result
changes one of those days."""

from __future__ import annotations

import random
import uuid
from datetime import timedelta

from statpulse.engine.rollup_query import plan
from statpulse.engine.rollups import Resolution, Rollup, floor_to
from statpulse.engine.sketch import LatencySketch
from statpulse.model import CheckResult, new_id
from statpulse.store.sql import SqlStore
from statpulse.store.sql_rollups import _DAY_SKETCHES
from tests.store.test_rollups import T0, monitors

DAY0 = floor_to(T0, Resolution.DAY) - timedelta(days=4)


def result(rng: random.Random, monitor_id: uuid.UUID, hours: float, region: str) -> CheckResult:
    at = DAY0 + timedelta(hours=hours)
    ok = rng.random() < 0.9
    return CheckResult(
        id=new_id(),
        monitor_id=monitor_id,
        region=region,
        scheduled_at=at,
        started_at=at,
        latency_ms=round(rng.lognormvariate(4, 1), 3) if ok else None,
        ok=ok,
        degraded=False,
    )


def answer(rollups: dict[str, Rollup]) -> dict[str, tuple[int, int, LatencySketch]]:
    return {r: (x.checks, x.ok, x.sketch) for r, x in rollups.items()}


async def test_repeated_reads_follow_late_results_in_closed_days(store: SqlStore) -> None:
    rng = random.Random(11)
    monitor_id = next(iter(await monitors(store)))
    await store.add_results(
        [result(rng, monitor_id, h / 4, region) for h in range(4 * 24 * 4) for region in "ab"]
    )
    # Three whole days from the day rollups, and hour and minute edges on both sides.
    spans = plan(
        DAY0 + timedelta(hours=5, minutes=29, seconds=50),
        DAY0 + timedelta(days=3, minutes=90, seconds=20),
    )
    assert {s.source for s in spans} == {None, *Resolution}
    start, end = spans[0].start, spans[-1].end
    first = await store.range_rollups(monitor_id, spans)
    assert len(_DAY_SKETCHES) > 0
    assert answer(first) == answer(await store.range_rollups(monitor_id, spans))  # cached days

    # Late results land in a closed day (and in an edge hour): every read sees them.
    late = [
        result(rng, monitor_id, 24 + 7.5, "a"),
        result(rng, monitor_id, 48 + 0.25, "b"),
        result(rng, monitor_id, 5.75, "a"),
    ]
    await store.add_results(late)
    after = await store.range_rollups(monitor_id, spans)
    assert sum(x.checks for x in after.values()) == sum(x.checks for x in first.values()) + 3
    assert answer(after) == answer(await store.range_rollups(monitor_id, spans))

    samples = await store.latency_samples(monitor_id, start, end)
    for region, rollup in after.items():
        mine = [s for s in samples if s.region == region]
        assert rollup.checks == len(mine)
        assert rollup.ok == sum(s.ok for s in mine)
        assert rollup.sketch == LatencySketch.of(
            [s.latency_ms for s in mine if s.ok and s.latency_ms is not None]
        )
