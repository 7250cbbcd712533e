"""The heartbeat service against a real store (SQLite and PostgreSQL), with an injected clock."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from statpulse.engine.heartbeats import Heartbeats, new_token
from statpulse.model import CheckResult, ErrorClass, Monitor, MonitorConfig
from statpulse.store.contract import HEARTBEAT_KIND, PUSH_REGION, Signal
from statpulse.store.sql import SqlStore

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Recorder:
    """Stores results like ingest does, and remembers them."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store
        self.results: list[CheckResult] = []

    async def __call__(self, batch: Sequence[CheckResult]) -> int:
        self.results.extend(batch)
        return await self.store.add_results(batch)


async def setup(store: SqlStore) -> tuple[Monitor, str, Heartbeats, Clock, Recorder]:
    org = await store.create_org("acme", "Acme")
    config = MonitorConfig(
        name="backup", kind=HEARTBEAT_KIND, target="", interval_s=60, regions=(PUSH_REGION,)
    )
    monitor = await store.create_monitor(org.id, config)
    clock, recorder = Clock(), Recorder(store)
    service = Heartbeats(store, recorder, clock)
    token = await service.token_for(monitor)
    assert token is not None
    return monitor, token, service, clock, recorder


def test_tokens_are_url_safe_and_unguessable() -> None:
    tokens = {new_token() for _ in range(100)}
    assert len(tokens) == 100
    assert all(len(t) == 32 and t.replace("-", "").replace("_", "").isalnum() for t in tokens)


async def test_other_kinds_have_no_token(store: SqlStore) -> None:
    monitor, _, service, _, _ = await setup(store)
    http = await store.create_monitor(monitor.org_id, MonitorConfig("api", "http", "http://x/"))
    assert await service.token_for(http) is None


async def test_a_ping_with_an_unknown_or_malformed_token_is_refused(store: SqlStore) -> None:
    _, token, service, _, recorder = await setup(store)
    for wrong in (new_token(), "", "short", token + "/x", "é" * 32):
        assert not await service.ping(wrong, Signal.SUCCESS)
    assert recorder.results == []


async def test_a_success_ping_writes_an_ok_result_of_the_push_region(store: SqlStore) -> None:
    monitor, token, service, clock, recorder = await setup(store)
    assert await service.ping(token, Signal.SUCCESS)
    [result] = recorder.results
    assert (result.monitor_id, result.region, result.ok) == (monitor.id, PUSH_REGION, True)
    assert result.started_at == clock.now
    assert [r.id for r in await store.recent_results(monitor.id, 10)] == [result.id]


async def test_a_paused_monitor_accepts_pings_and_records_nothing(store: SqlStore) -> None:
    monitor, token, service, clock, recorder = await setup(store)
    await store.set_paused(monitor.org_id, monitor.id, True)
    assert await service.ping(token, Signal.FAIL, "boom")
    clock.advance(3600)
    assert await service.sweep() == []
    assert recorder.results == []
    found = await store.heartbeat_by_token(token)
    assert found is not None and found[1].last_fail_at is None


async def test_silence_writes_one_failure_per_period(store: SqlStore) -> None:
    _, token, service, clock, recorder = await setup(store)
    await service.ping(token, Signal.SUCCESS)
    clock.advance(119)
    assert await service.sweep() == []
    clock.advance(1)
    [failure] = await service.sweep()
    assert failure.error_class is ErrorClass.TIMEOUT and not failure.ok
    assert failure.error_message == "no ping for 2m (expected every 1m, grace 1m)"
    assert await service.sweep() == []
    clock.advance(60 * 10)  # the sweeper was away for ten periods: one failure, not ten
    assert len(await service.sweep()) == 1
    assert len(recorder.results) == 3  # the success and two failures


async def test_a_ping_before_the_claim_cancels_the_failure(store: SqlStore) -> None:
    _, token, service, clock, recorder = await setup(store)
    clock.advance(200)
    [(m, stale_state)] = await store.due_heartbeats()
    await service.ping(token, Signal.SUCCESS)
    assert not await store.claim_overdue(m.id, stale_state.version, clock.now)
    assert await service.sweep() == []
    assert [r.ok for r in recorder.results] == [True]


async def test_concurrent_sweepers_write_each_failure_once(store: SqlStore) -> None:
    _, _, service, clock, recorder = await setup(store)
    others = [Heartbeats(store, recorder, clock) for _ in range(4)]
    clock.advance(125)
    await asyncio.gather(service.sweep(), *(o.sweep() for o in others))
    assert len(recorder.results) == 1


async def test_a_start_without_completion_fails_after_the_grace(store: SqlStore) -> None:
    _, token, service, clock, recorder = await setup(store)
    await service.ping(token, Signal.SUCCESS)
    clock.advance(10)
    await service.ping(token, Signal.START)
    clock.advance(61)
    [failure] = await service.sweep()
    assert failure.error_message == "started 1m 1s ago, no completion ping"
    assert [r.ok for r in recorder.results] == [True, False]


async def test_the_background_sweeper_runs_until_stopped(store: SqlStore) -> None:
    monitor, _, _, clock, recorder = await setup(store)
    service = Heartbeats(store, recorder, clock, tick_s=0.01)
    clock.advance(125)
    await service.start()
    try:
        async with asyncio.timeout(5):
            while not recorder.results:
                await asyncio.sleep(0.01)
    finally:
        await service.stop()
    assert [r.monitor_id for r in recorder.results] == [monitor.id]
    clock.advance(60)
    await asyncio.sleep(0.05)
    assert len(recorder.results) == 1  # stopped: nothing more
