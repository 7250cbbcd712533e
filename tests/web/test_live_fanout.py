"""Live page updates: one read of a page's state per change, shared by its clients, and never
a read older than the change that woke a client."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from statpulse.bus.live import Broadcaster, MonitorChanged
from statpulse.engine.incidents import Override
from statpulse.i18n import translate
from statpulse.model import (
    Component,
    Decide,
    Evaluation,
    Monitor,
    MonitorConfig,
    Organization,
    Status,
    StatusPage,
    utcnow,
)
from statpulse.store.sql import SqlStore
from statpulse.web.public.appearance import DEFAULT_APPEARANCE
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


@dataclass
class Acme:
    """An organisation's page showing one monitor as component "API", and the page's live
    stream (``stream()``, closed with the test)."""

    store: SqlStore
    org: Organization
    monitor: Monitor
    page: StatusPage
    component: Component
    live: Broadcaster
    svc: SimpleNamespace
    streams: list[AsyncIterator[str]]

    def stream(self) -> AsyncIterator[str]:
        stream = _stream(self.svc, self.page)  # type: ignore[arg-type]
        self.streams.append(stream)
        return stream


@pytest.fixture
async def acme(sqlite_store: SqlStore) -> AsyncIterator[Acme]:
    store = sqlite_store
    org = await store.create_org("acme", "Acme")
    monitor = await store.create_monitor(
        org.id, MonitorConfig(name="api", kind="http", target="http://x/", interval_s=10)
    )
    page = await store.create_page(org.id, "acme", "Acme status", "")
    component = await store.create_component(org.id, "API", "", monitor.id, [page.id])
    live = Broadcaster()
    svc = SimpleNamespace(store=store, live=live, stopping=asyncio.Event())
    env = Acme(store, org, monitor, page, component, live, svc, [])
    try:
        yield env
    finally:
        svc.stopping.set()
        for stream in env.streams:
            await stream.aclose()  # type: ignore[attr-defined]


def _calls(monkeypatch: pytest.MonkeyPatch, store: SqlStore, method: str) -> list[int]:
    """Counts the calls of the store's ``method`` (in the returned one-item list)."""
    calls = [0]
    original = getattr(store, method)

    async def counted(*args: Any) -> Any:
        calls[0] += 1
        return await original(*args)

    monkeypatch.setattr(store, method, counted)
    return calls


async def _status(stream: AsyncIterator[str]) -> str:
    status: str = (await _next_data(stream))["components"][0]["status"]
    return status


async def test_connected_clients_get_each_change_from_one_read_of_the_page(acme: Acme) -> None:
    streams = [acme.stream() for _ in range(5)]
    for stream in streams:  # connected: each has the state
        assert await _status(stream) == "unknown"
    reads = fanout_for(acme.live).reads
    await _change(acme.store, acme.live, acme.monitor.id, Status.DOWN)
    assert await asyncio.gather(*(_status(s) for s in streams)) == ["down"] * 5
    assert fanout_for(acme.live).reads == reads + 1


async def test_the_page_language_is_read_once_until_the_appearance_is_written(
    acme: Acme, monkeypatch: pytest.MonkeyPatch
) -> None:
    appearance_reads = _calls(monkeypatch, acme.store, "get_page_appearance")
    stream = acme.stream()
    await _next_data(stream)
    for status in (Status.UP, Status.DOWN):  # changes: no appearance read
        await _change(acme.store, acme.live, acme.monitor.id, status)
        english = await _next_data(stream)
    assert appearance_reads == [1]
    assert english["banner"] == "Major outage"
    # This process's write drops the cached language: the next change is in German.
    await acme.store.set_page_appearance(acme.page.id, replace(DEFAULT_APPEARANCE, language="de"))
    await _change(acme.store, acme.live, acme.monitor.id, Status.DOWN)
    german = await _next_data(stream)
    assert appearance_reads == [2]
    assert german["banner"] != english["banner"]
    assert german["banner"] == translate("de", english["banner"])


async def test_a_change_costs_no_page_read_until_this_process_writes_to_the_page(
    acme: Acme, monkeypatch: pytest.MonkeyPatch
) -> None:
    frame_reads = _calls(monkeypatch, acme.store, "page_components")
    stream, live, monitor_id = acme.stream(), acme.live, acme.monitor.id
    assert await _status(stream) == "unknown"
    # The events carry the new status: the store (still "unknown") is not read again.
    for status in (Status.DOWN, Status.UP, Status.DOWN):
        live.publish(MonitorChanged(monitor_id, status, utcnow()))
        assert await _status(stream) == status.value
    assert frame_reads == [1]
    # This process's override drops the frame: the next change reads the page again.
    await acme.store.set_override(
        acme.org.id, acme.component.id, "test", Override.MAJOR_OUTAGE, "by hand", utcnow()
    )
    live.publish(MonitorChanged(monitor_id, Status.UP, utcnow()))
    assert await _status(stream) == "down"
    assert frame_reads == [2]


async def test_an_event_older_than_the_stored_status_does_not_change_the_page(
    acme: Acme,
) -> None:
    # Two workers' events may arrive out of order: the state change's time decides.
    live, monitor_id = acme.live, acme.monitor.id
    await acme.store.evaluate_locked([monitor_id], _deciding(monitor_id, Status.DOWN))
    stored_at = utcnow()
    stream = acme.stream()
    assert await _status(stream) == "down"
    live.publish(MonitorChanged(monitor_id, Status.UP, stored_at - timedelta(minutes=1)))
    assert await _status(stream) == "down"
    live.publish(MonitorChanged(monitor_id, Status.UP, utcnow() + timedelta(seconds=1)))
    assert await _status(stream) == "up"
    # A late event older than the newest heard changes nothing either.
    live.publish(MonitorChanged(monitor_id, Status.DOWN, stored_at))
    assert await _status(stream) == "up"


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
