"""RedisBroadcaster against the real Redis server: events cross processes, queues stay bounded."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from statpulse.bus.live import MonitorChanged
from statpulse.bus.redis_live import RedisBroadcaster
from statpulse.model import Status, utcnow
from tests.bus import REDIS_URL, Outage, redis_keys, with_query


@pytest.fixture
async def channel() -> AsyncIterator[tuple[Redis, str]]:
    async with redis_keys("live") as (client, key):
        yield client, key


def event(status: Status = Status.DOWN) -> MonitorChanged:
    return MonitorChanged(uuid.uuid4(), status, utcnow())


async def get(queue: asyncio.Queue[MonitorChanged]) -> MonitorChanged:
    async with asyncio.timeout(2):
        return await queue.get()


async def test_an_event_published_in_one_process_reaches_subscribers_of_both(
    channel: tuple[Redis, str],
) -> None:
    _client, name = channel
    one, two = (RedisBroadcaster(REDIS_URL, channel=name) for _ in range(2))
    await one.start()
    await two.start()
    first, second = event(Status.DOWN), MonitorChanged(uuid.uuid4(), Status.UP)  # time unknown
    async with one.subscribe() as here, two.subscribe() as there:
        assert (one.subscriber_count, two.subscriber_count) == (1, 1)
        one.publish(first)
        assert await get(there) == first
        two.publish(second)
        assert await get(here) == first  # delivered locally, at once
        assert await get(here) == second
        assert await get(there) == second
        assert here.empty()  # no echo of its own event
        assert there.empty()
        # Each process remembers the last event per monitor, its own and the other's.
        assert two.latest[first.monitor_id][1] == first
        assert one.latest[second.monitor_id][1] == second
    await one.stop()
    await two.stop()


async def test_a_slow_subscriber_loses_the_oldest_events_not_the_newest(
    channel: tuple[Redis, str],
) -> None:
    _client, name = channel
    sender = RedisBroadcaster(REDIS_URL, channel=name)
    receiver = RedisBroadcaster(REDIS_URL, channel=name, queue_size=2)
    await sender.start()
    await receiver.start()
    events = [event() for _ in range(5)]
    async with receiver.subscribe() as slow:
        for e in events:
            sender.publish(e)
        async with asyncio.timeout(2):
            while receiver.received < len(events):
                await asyncio.sleep(0.01)
        assert [slow.get_nowait(), slow.get_nowait()] == events[-2:]
        assert slow.empty()
    await sender.stop()
    await receiver.stop()


async def test_stop_sends_queued_events_then_ends_its_tasks(
    channel: tuple[Redis, str],
) -> None:
    _client, name = channel
    sender = RedisBroadcaster(REDIS_URL, channel=name)
    receiver = RedisBroadcaster(REDIS_URL, channel=name)
    await sender.start()
    await receiver.start()
    e = event()
    async with receiver.subscribe() as queue:
        sender.publish(e)  # queued; stop() must not lose it
        await sender.stop()
        assert await get(queue) == e
    await receiver.stop()
    names = {t.get_name() for t in asyncio.all_tasks()}
    assert not names & {"live-receive", "live-send"}


async def test_a_dropped_subscription_is_restored(channel: tuple[Redis, str]) -> None:
    client, name = channel
    tag = f"statpulse-test-{uuid.uuid4().hex[:8]}"
    receiver = RedisBroadcaster(with_query(REDIS_URL, client_name=tag), channel=name)
    sender = RedisBroadcaster(REDIS_URL, channel=name)
    await receiver.start()
    await sender.start()
    async with receiver.subscribe() as queue:
        clients: Any = await client.client_list(_type="pubsub")
        ids = [c["id"] for c in clients if c.get("name") == tag]
        assert len(ids) == 1
        await client.client_kill_filter(_id=ids[0])
        # Events sent while it is away are lost (pub/sub); keep sending until one arrives.
        e = event()
        async with asyncio.timeout(3):
            while queue.empty():
                sender.publish(e)
                await asyncio.sleep(0.05)
        assert queue.get_nowait() == e
    await receiver.stop()
    await sender.stop()


async def test_both_directions_come_back_after_a_redis_outage(channel: tuple[Redis, str]) -> None:
    _client, name = channel
    outage = Outage()
    await outage.restore()
    away = RedisBroadcaster(outage.url, channel=name)
    home = RedisBroadcaster(REDIS_URL, channel=name)
    await away.start()
    await home.start()
    async with away.subscribe() as away_q, home.subscribe() as home_q:
        await outage.cut()
        sent_away = event()
        away.publish(sent_away)  # held by the sender task until Redis answers again
        assert await get(away_q) == sent_away
        await asyncio.sleep(1.0)  # longer than the client's own retries
        await outage.restore()
        assert await get(home_q) == sent_away
        e = event()
        async with asyncio.timeout(5):  # sent while resubscribing would be lost: keep sending
            while away_q.empty():
                home.publish(e)
                await asyncio.sleep(0.05)
        assert away_q.get_nowait() == e
    await away.stop()
    await home.stop()
    await outage.cut()
