"""The evaluator against a real store: thresholds, change rows, replays, live events."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from statpulse.bus.live import Broadcaster
from statpulse.bus.memory import MemoryBus
from statpulse.engine.evaluator import Evaluator
from statpulse.metrics import Metrics
from statpulse.model import CheckResult, LatencyThresholds, MonitorConfig, Status, new_id
from statpulse.store.sql import SqlStore

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def result(monitor_id, i: int, ok: bool, region: str = "local") -> CheckResult:  # type: ignore[no-untyped-def]
    at = T0 + timedelta(seconds=10 * i)
    return CheckResult(
        new_id(), monitor_id, region, at, at, 10.0, ok, error_message=None if ok else "boom"
    )


async def setup(store: SqlStore, **config: object):  # type: ignore[no-untyped-def]
    org = await store.create_org("acme", "Acme")
    monitor = await store.create_monitor(
        org.id,
        MonitorConfig(name="api", kind="http", target="http://x/", interval_s=10, **config),  # type: ignore[arg-type]
    )
    live = Broadcaster()
    clock = {"now": T0}
    evaluator = Evaluator(store, MemoryBus(), live, Metrics(), clock=lambda: clock["now"])
    return monitor, evaluator, live, clock


async def test_monitor_goes_down_after_the_failure_threshold(sqlite_store: SqlStore) -> None:
    monitor, evaluator, _, _ = await setup(sqlite_store, failure_threshold=2)
    assert [c.to_status for c in await evaluator.process([result(monitor.id, 0, True)])] == [
        Status.UP
    ]
    assert await evaluator.process([result(monitor.id, 1, False)]) == []
    changes = await evaluator.process([result(monitor.id, 2, False)])
    assert [(c.from_status, c.to_status) for c in changes] == [(Status.UP, Status.DOWN)]
    assert "boom" in changes[0].reason
    stored = await sqlite_store.state_changes(monitor.id, 10)
    assert [c.to_status for c in stored] == [Status.DOWN, Status.UP]


async def test_a_replayed_batch_does_not_count_twice(sqlite_store: SqlStore) -> None:
    monitor, evaluator, _, _ = await setup(sqlite_store, failure_threshold=2)
    first = [result(monitor.id, 0, False)]
    await evaluator.process(first)
    assert await evaluator.process(first) == []
    states = await sqlite_store.region_states([monitor.id])
    assert states[0].streak == 1 and states[0].status is Status.UNKNOWN


async def test_results_in_one_batch_apply_in_time_order(sqlite_store: SqlStore) -> None:
    monitor, evaluator, _, _ = await setup(sqlite_store, failure_threshold=1)
    batch = [result(monitor.id, 2, True), result(monitor.id, 1, False)]
    changes = await evaluator.process(batch)
    got = await sqlite_store.get_monitor(monitor.org_id, monitor.id)
    assert got is not None and got.status is Status.UP
    assert [c.to_status for c in changes] == [Status.UP]


async def test_quorum_over_regions(sqlite_store: SqlStore) -> None:
    monitor, evaluator, _, _ = await setup(
        sqlite_store, failure_threshold=1, regions=("a", "b", "c")
    )
    await evaluator.process([result(monitor.id, 0, True, r) for r in "abc"])
    changes = await evaluator.process([result(monitor.id, 1, False, "a")])
    assert [c.to_status for c in changes] == [Status.DEGRADED]
    assert changes[0].reason.startswith("1 of 3 regions failing")
    changes = await evaluator.process([result(monitor.id, 1, False, "b")])
    assert [c.to_status for c in changes] == [Status.DOWN]


async def test_results_of_paused_or_unknown_monitors_are_ignored(sqlite_store: SqlStore) -> None:
    monitor, evaluator, _, _ = await setup(sqlite_store)
    await sqlite_store.set_paused(monitor.org_id, monitor.id, True)
    assert await evaluator.process([result(monitor.id, 0, True), result(new_id(), 0, True)]) == []
    got = await sqlite_store.get_monitor(monitor.org_id, monitor.id)
    assert got is not None and got.status is Status.PAUSED


async def test_state_changes_are_broadcast(sqlite_store: SqlStore) -> None:
    monitor, evaluator, live, _ = await setup(sqlite_store)
    async with live.subscribe() as events:
        await evaluator.process([result(monitor.id, 0, True)])
        event = events.get_nowait()
    assert (event.monitor_id, event.status) == (monitor.id, Status.UP)


async def test_five_workers_evaluating_one_monitor_at_once_record_one_state_change(
    store: SqlStore,
) -> None:
    """Each region's failure reaches a different evaluator at the same moment (as with several
    engine workers). Each must see what the previous one stored: the monitor goes down once,
    with one change row, and every region state is kept."""
    regions = [f"r{i}" for i in range(5)]
    monitor, first, _, _ = await setup(store, failure_threshold=1, regions=regions)
    others = [
        Evaluator(store, MemoryBus(), Broadcaster(), Metrics(), clock=lambda: T0) for _ in range(4)
    ]
    batches = [[result(monitor.id, 0, False, region=r)] for r in regions]
    changes = await asyncio.gather(
        *(ev.process(b) for ev, b in zip([first, *others], batches, strict=True))
    )
    assert [c.to_status for cs in changes for c in cs] == [Status.DOWN]
    assert [c.to_status for c in await store.state_changes(monitor.id, 10)] == [Status.DOWN]
    states = await store.region_states([monitor.id])
    assert sorted(s.region for s in states if s.status is Status.DOWN) == regions


async def test_a_monitor_over_its_p95_latency_threshold_is_degraded_and_recovers_below_it(
    store: SqlStore,
) -> None:
    monitor, evaluator, _, clock = await setup(store, latency=LatencyThresholds(p95_ms=100.0))

    async def run(i: int, latency_ms: float) -> list[Status]:
        at = T0 + timedelta(seconds=10 * i)
        clock["now"] = at
        batch = [CheckResult(new_id(), monitor.id, "local", at, at, latency_ms, True)]
        await store.add_results(batch)
        return [c.to_status for c in await evaluator.process(batch)]

    assert await run(0, 20.0) == [Status.UP]
    changes = [s for i in range(1, 7) for s in await run(i, 500.0)]
    assert changes == [Status.DEGRADED]  # once enough slow samples are in the window
    assert "latency" in (await store.state_changes(monitor.id, 1))[0].reason
    # Five minutes of fast results later, the window is fast again.
    back = [s for i in range(40, 72) for s in await run(i, 20.0)]
    assert back == [Status.UP]
