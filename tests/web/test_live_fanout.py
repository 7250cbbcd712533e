"""Live page updates: one read of a page's state per change, shared by its clients, and never
a read older than the change that woke a client."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from statpulse.bus.live import Broadcaster, MonitorChanged
from statpulse.engine.incidents import Override
from statpulse.model import Decide, Evaluation, MonitorConfig, Status, utcnow
from statpulse.store.sql import SqlStore
from statpulse.web.public.appearance import DEFAULT_APPEARANCE, PageAppearance
from statpulse.web.public.i18n import translate
from statpulse.web.public.live_fanout import HEARTBEAT_SHARE_S, LiveFanout, fanout_for
from statpulse.web.public.routes import _stream


class Reads:
    """A render that counts its calls and finishes when told to (``release``)."""

    def __init__(self) -> None:
        self.calls = 0
        self.gate = asyncio.Event()
        self.gate.set()

    async def __call__(self) -> str:
        self.calls += 1
        n = self.calls
        await self.gate.wait()
        return f"read {n}"


def _changed(live: Broadcaster) -> None:
    live.publish(MonitorChanged(uuid.uuid4(), Status.DOWN))


async def test_clients_woken_by_one_change_share_one_read() -> None:
    live = Broadcaster()
    fanout, render = LiveFanout(live), Reads()
    await fanout.payload("page", render)
    _changed(live)
    texts = await asyncio.gather(*(fanout.payload("page", render) for _ in range(50)))
    assert set(texts) == {"read 2"} and render.calls == 2


async def test_a_read_started_before_a_change_is_not_shared_after_it() -> None:
    live = Broadcaster()
    fanout, render = LiveFanout(live), Reads()
    render.gate.clear()
    before = asyncio.ensure_future(fanout.payload("page", render))
    await asyncio.sleep(0)
    _changed(live)  # the read in flight may have missed it
    after = asyncio.ensure_future(fanout.payload("page", render))
    render.gate.set()
    assert (await before, await after) == ("read 1", "read 2")


async def test_pages_are_read_separately() -> None:
    live = Broadcaster()
    fanout, render = LiveFanout(live), Reads()
    assert await fanout.payload("a", render) == "read 1"
    assert await fanout.payload("b", render) == "read 2"
    assert await fanout.payload("a", render) == "read 1"


async def test_a_connecting_client_shares_only_a_read_in_flight() -> None:
    live = Broadcaster()
    fanout, render = LiveFanout(live), Reads()
    render.gate.clear()
    first = asyncio.ensure_future(fanout.payload("page", render, max_age_s=0))
    await asyncio.sleep(0)
    second = asyncio.ensure_future(fanout.payload("page", render, max_age_s=0))
    await asyncio.sleep(0)  # connected while the first read is in flight
    render.gate.set()
    assert (await first, await second) == ("read 1", "read 1")
    # Done: the next client to connect reads again.
    assert await fanout.payload("page", render, max_age_s=0) == "read 2"


async def test_a_heartbeat_shares_a_recent_read_only() -> None:
    live = Broadcaster()
    clock = {"now": 100.0}
    fanout, render = LiveFanout(live, clock=lambda: clock["now"]), Reads()
    await fanout.payload("page", render)
    clock["now"] += HEARTBEAT_SHARE_S / 2
    assert await fanout.payload("page", render, max_age_s=HEARTBEAT_SHARE_S) == "read 1"
    clock["now"] += HEARTBEAT_SHARE_S
    assert await fanout.payload("page", render, max_age_s=HEARTBEAT_SHARE_S) == "read 2"


async def test_a_failed_read_fails_its_callers_and_is_not_shared_later() -> None:
    live = Broadcaster()
    fanout = LiveFanout(live)
    calls = []

    async def broken() -> str:
        calls.append(1)
        raise RuntimeError("database gone")

    results = await asyncio.gather(
        fanout.payload("page", broken), fanout.payload("page", broken), return_exceptions=True
    )
    assert [type(r) for r in results] == [RuntimeError, RuntimeError] and len(calls) == 1
    with pytest.raises(RuntimeError):
        await fanout.payload("page", broken)
    assert len(calls) == 2


async def test_a_client_going_away_does_not_cancel_the_read_of_the_others() -> None:
    live = Broadcaster()
    fanout, render = LiveFanout(live), Reads()
    render.gate.clear()
    leaving = asyncio.ensure_future(fanout.payload("page", render))
    staying = asyncio.ensure_future(fanout.payload("page", render))
    await asyncio.sleep(0)
    leaving.cancel()
    render.gate.set()
    assert await staying == "read 1"


async def _next_data(stream: AsyncIterator[str]) -> dict[str, Any]:
    while True:
        chunk = await asyncio.wait_for(anext(stream), 10)
        if chunk.startswith("data: "):
            doc: dict[str, Any] = json.loads(chunk[6:])
            return doc


async def test_connected_clients_get_each_change_from_one_read_of_the_page(
    sqlite_store: SqlStore,
) -> None:
    store = sqlite_store
    org = await store.create_org("acme", "Acme")
    monitor = await store.create_monitor(
        org.id, MonitorConfig(name="api", kind="http", target="http://x/", interval_s=10)
    )
    page = await store.create_page(org.id, "acme", "Acme status", "")
    await store.create_component(org.id, "API", "", monitor.id, [page.id])
    live = Broadcaster()
    svc = SimpleNamespace(store=store, live=live, stopping=asyncio.Event())
    streams = [_stream(svc, page) for _ in range(5)]  # type: ignore[arg-type]
    try:
        for stream in streams:  # connected: each has the state
            assert (await _next_data(stream))["components"][0]["status"] == "unknown"
        reads = fanout_for(live).reads
        await store.evaluate_locked([monitor.id], _deciding(monitor.id, Status.DOWN))
        live.publish(MonitorChanged(monitor.id, Status.DOWN))
        docs = await asyncio.gather(*(_next_data(s) for s in streams))
        assert [d["components"][0]["status"] for d in docs] == ["down"] * 5
        assert fanout_for(live).reads == reads + 1
    finally:
        svc.stopping.set()
        for stream in streams:
            await stream.aclose()  # type: ignore[attr-defined]


async def test_the_page_language_is_read_once_until_the_appearance_is_written(
    sqlite_store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = sqlite_store
    org = await store.create_org("acme", "Acme")
    monitor = await store.create_monitor(
        org.id, MonitorConfig(name="api", kind="http", target="http://x/", interval_s=10)
    )
    page = await store.create_page(org.id, "acme", "Acme status", "")
    await store.create_component(org.id, "API", "", monitor.id, [page.id])
    appearance_reads = 0
    read_appearance = store.get_page_appearance

    async def counted(page_id: uuid.UUID) -> PageAppearance:
        nonlocal appearance_reads
        appearance_reads += 1
        return await read_appearance(page_id)

    monkeypatch.setattr(store, "get_page_appearance", counted)
    live = Broadcaster()
    svc = SimpleNamespace(store=store, live=live, stopping=asyncio.Event())
    stream = _stream(svc, page)  # type: ignore[arg-type]
    try:
        await _next_data(stream)
        for status in (Status.UP, Status.DOWN):  # changes: no appearance read
            await _change(store, live, monitor.id, status)
            english = await _next_data(stream)
        assert appearance_reads == 1
        assert english["banner"] == "Major outage"
        # This process's write drops the cached language: the next change is in German.
        await store.set_page_appearance(page.id, replace(DEFAULT_APPEARANCE, language="de"))
        await _change(store, live, monitor.id, Status.DOWN)
        german = await _next_data(stream)
        assert appearance_reads == 2
        assert german["banner"] != english["banner"]
        assert german["banner"] == translate("de", english["banner"])
    finally:
        svc.stopping.set()
        await stream.aclose()  # type: ignore[attr-defined]


async def test_a_change_costs_no_page_read_until_this_process_writes_to_the_page(
    sqlite_store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = sqlite_store
    org = await store.create_org("acme", "Acme")
    monitor = await store.create_monitor(
        org.id, MonitorConfig(name="api", kind="http", target="http://x/", interval_s=10)
    )
    page = await store.create_page(org.id, "acme", "Acme status", "")
    component = await store.create_component(org.id, "API", "", monitor.id, [page.id])
    frame_reads = 0
    read_components = store.page_components

    async def counted(page_id: uuid.UUID) -> Any:
        nonlocal frame_reads
        frame_reads += 1
        return await read_components(page_id)

    monkeypatch.setattr(store, "page_components", counted)
    live = Broadcaster()
    svc = SimpleNamespace(store=store, live=live, stopping=asyncio.Event())
    stream = _stream(svc, page)  # type: ignore[arg-type]
    try:
        assert (await _next_data(stream))["components"][0]["status"] == "unknown"
        # The events carry the new status: the store (still "unknown") is not read again.
        for status in (Status.DOWN, Status.UP, Status.DOWN):
            live.publish(MonitorChanged(monitor.id, status, utcnow()))
            assert (await _next_data(stream))["components"][0]["status"] == status.value
        assert frame_reads == 1
        # This process's override drops the frame: the next change reads the page again.
        await store.set_override(
            org.id, component.id, "test", Override.MAJOR_OUTAGE, "by hand", utcnow()
        )
        live.publish(MonitorChanged(monitor.id, Status.UP, utcnow()))
        doc = await _next_data(stream)
        assert frame_reads == 2
        assert doc["components"][0]["status"] == "down"
    finally:
        svc.stopping.set()
        await stream.aclose()  # type: ignore[attr-defined]


async def test_an_event_older_than_the_stored_status_does_not_change_the_page(
    sqlite_store: SqlStore,
) -> None:
    # Two workers' events may arrive out of order: the state change's time decides.
    store = sqlite_store
    org = await store.create_org("acme", "Acme")
    monitor = await store.create_monitor(
        org.id, MonitorConfig(name="api", kind="http", target="http://x/", interval_s=10)
    )
    page = await store.create_page(org.id, "acme", "Acme status", "")
    await store.create_component(org.id, "API", "", monitor.id, [page.id])
    await store.evaluate_locked([monitor.id], _deciding(monitor.id, Status.DOWN))
    stored_at = utcnow()
    live = Broadcaster()
    svc = SimpleNamespace(store=store, live=live, stopping=asyncio.Event())
    stream = _stream(svc, page)  # type: ignore[arg-type]
    try:
        assert (await _next_data(stream))["components"][0]["status"] == "down"
        live.publish(MonitorChanged(monitor.id, Status.UP, stored_at - timedelta(minutes=1)))
        assert (await _next_data(stream))["components"][0]["status"] == "down"
        live.publish(MonitorChanged(monitor.id, Status.UP, utcnow() + timedelta(seconds=1)))
        assert (await _next_data(stream))["components"][0]["status"] == "up"
        # A late event older than the newest heard changes nothing either.
        live.publish(MonitorChanged(monitor.id, Status.DOWN, stored_at))
        assert (await _next_data(stream))["components"][0]["status"] == "up"
    finally:
        svc.stopping.set()
        await stream.aclose()  # type: ignore[attr-defined]


async def _change(
    store: SqlStore, live: Broadcaster, monitor_id: uuid.UUID, status: Status
) -> None:
    """Store and publish a change of the monitor's status, as the evaluator does."""
    await store.evaluate_locked([monitor_id], _deciding(monitor_id, status))
    live.publish(MonitorChanged(monitor_id, status, utcnow()))


def _deciding(monitor_id: uuid.UUID, status: Status) -> Decide:
    """Decides ``status`` as the monitor's new one, as the evaluator stores it."""

    async def decide(_monitors: Any, _states: Any) -> Evaluation:
        return Evaluation([], {monitor_id: (status, utcnow())}, [])

    return decide
