"""The evaluator's bus loop against a real store: changes reach live pages before they are
announced, announcements follow in order and are all made before the loop ends, and a
batch's announcements share their maintenance and parent lookups."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from statpulse.bus.live import Broadcaster
from statpulse.bus.memory import MemoryBus
from statpulse.engine.evaluator import Evaluator
from statpulse.metrics import Metrics
from statpulse.model import CheckResult, MonitorConfig, Status, new_id
from statpulse.notify import NOTIFIERS
from statpulse.notify.signing import new_secret
from statpulse.store.sql import SqlStore

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


async def _org(store: SqlStore, monitors: int = 1):  # type: ignore[no-untyped-def]
    org = await store.create_org("acme", "Acme")
    config = NOTIFIERS["webhook"].validate({"url": "http://127.0.0.1:9/", "secret": new_secret()})
    channel = await store.create_channel(org.id, "webhook", "ops", config, ("secret",))
    created = [
        await store.create_monitor(
            org.id,
            MonitorConfig(
                name=f"api{i}",
                kind="http",
                target="http://x/",
                interval_s=10,
                failure_threshold=1,
                recovery_threshold=1,
            ),
        )
        for i in range(monitors)
    ]
    return org, channel, created


def _result(monitor_id: Any, at: datetime, ok: bool) -> CheckResult:
    return CheckResult(new_id(), monitor_id, "local", at, at, 5.0 if ok else None, ok)


async def test_a_change_reaches_live_pages_before_its_draft_and_alert_exist(
    store: SqlStore,
) -> None:
    org, channel, (monitor,) = await _org(store)
    bus, live = MemoryBus(), Broadcaster()
    evaluator = Evaluator(store, bus, live, Metrics(), clock=lambda: T0)
    seen: list[tuple[Status, int, int]] = []
    async with live.subscribe() as events:
        loop = asyncio.create_task(evaluator.run())
        await bus.publish([_result(monitor.id, T0, False)])
        event = await asyncio.wait_for(events.get(), 10)
        # What a page client could read at once: the change is stored, nobody told yet.
        seen.append(
            (
                event.status,
                len(await store.list_incidents(org.id)),
                len(await store.outbox_rows(channel.id)),
            )
        )
        await bus.close()
        await asyncio.wait_for(loop, 10)
    assert seen == [(Status.DOWN, 0, 0)]
    # The loop announced what it had queued before it ended.
    assert [i.monitor_id for i in await store.list_incidents(org.id)] == [monitor.id]
    rows = await store.outbox_rows(channel.id)
    assert [r["message"]["event"] for r in rows] == ["monitor.down"]


async def test_changes_are_announced_in_their_order_when_announcing_lags(
    store: SqlStore,
) -> None:
    org, channel, (monitor,) = await _org(store)
    bus = MemoryBus()
    evaluator = Evaluator(store, bus, Broadcaster(), Metrics(), clock=lambda: T0)
    for i, ok in enumerate((False, True, False)):  # down, up, down: queued before announcing
        await bus.publish([_result(monitor.id, T0 + timedelta(seconds=10 * i), ok)])
    await bus.close()
    await asyncio.wait_for(evaluator.run(), 10)
    events = [r["message"]["event"] for r in await store.outbox_rows(channel.id)]
    assert events == ["monitor.down", "monitor.up", "monitor.down"]
    incidents = sorted(await store.list_incidents(org.id), key=lambda i: i.id)
    # The first outage's draft was resolved by the recovery, the second opened its own.
    assert len(incidents) == 2
    assert incidents[0].resolved_at is not None and incidents[1].resolved_at is None


async def test_a_late_announcement_decides_flapping_on_the_changes_up_to_its_own(
    store: SqlStore,
) -> None:
    _, channel, (at_once, late) = await _org(store, monitors=2)
    clock = {"now": T0}
    evaluator = Evaluator(store, MemoryBus(), Broadcaster(), Metrics(), clock=lambda: clock["now"])
    pending = []
    for i in range(10):  # up, down, up ... every 10 s: flapping from the sixth change
        clock["now"] = T0 + timedelta(seconds=10 * i)
        await evaluator.process([_result(at_once.id, clock["now"], i % 2 == 0)])
        # The other monitor's changes are all stored before any is announced.
        pending.append(await evaluator.evaluate([_result(late.id, clock["now"], i % 2 == 0)]))
    for batch in pending:
        await evaluator.announce_all(batch)
    rows = await store.outbox_rows(channel.id)

    def events(name: str) -> list[str]:
        return [r["message"]["event"] for r in rows if r["message"]["monitor_name"] == name]

    assert events("api0").count("monitor.flapping") == 1
    assert events("api1") == events("api0")


async def test_one_batchs_changes_read_their_organisations_maintenances_once(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    org, channel, monitors = await _org(store, monitors=5)
    reads = []
    list_maintenances = store.list_maintenances

    async def counted(org_id: Any) -> Any:
        reads.append(org_id)
        return await list_maintenances(org_id)

    monkeypatch.setattr(store, "list_maintenances", counted)
    evaluator = Evaluator(store, MemoryBus(), Broadcaster(), Metrics(), clock=lambda: T0)
    changes = await evaluator.process([_result(m.id, T0, False) for m in monitors])
    assert len(changes) == 5
    assert reads == [org.id]
    assert len(await store.outbox_rows(channel.id)) == 5
    assert len(await store.list_incidents(org.id)) == 5
