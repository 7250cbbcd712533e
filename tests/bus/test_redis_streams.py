"""RedisStreamBus against the real Redis server: delivery, sharing, takeover, poison entries."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from redis.asyncio import Redis

from statpulse.bus.redis_streams import RedisStreamBus
from statpulse.model import CheckResult, ConditionResult, ErrorClass, Phases, new_id
from tests.bus import REDIS_URL, Outage, redis_keys, with_query

T0 = datetime(2026, 11, 23, 12, 0, 0, 123456, tzinfo=UTC)
MONITOR = uuid.UUID("01935f0e-0000-7000-8000-000000000001")


def result(i: int = 0, *, ok: bool = True) -> CheckResult:
    at = T0 + timedelta(seconds=i)
    if ok:
        return CheckResult(
            id=new_id(),
            monitor_id=MONITOR,
            region="eu-west",
            scheduled_at=at,
            started_at=at + timedelta(microseconds=250),
            latency_ms=12.5 + i,
            ok=True,
            status_code=200,
            phases=Phases(dns_ms=0.4, connect_ms=1.25, tls_ms=3.0, first_byte_ms=7.75),
        )
    return CheckResult(
        id=new_id(),
        monitor_id=MONITOR,
        region="us-east",
        scheduled_at=at,
        started_at=at,
        latency_ms=None,
        ok=False,
        degraded=False,
        status_code=503,
        error_class=ErrorClass.HTTP_STATUS,
        error_message="503 Service Unavailable — «upstream»",
        conditions=(ConditionResult("[STATUS] == 200", False, "[STATUS] (503) == 200"),),
        attempts=3,
    )


@pytest.fixture
async def stream() -> AsyncIterator[tuple[Redis, str]]:
    async with redis_keys("results") as (client, key):
        yield client, key


def bus(stream: str, consumer: str, **options: Any) -> RedisStreamBus:
    options.setdefault("block_ms", 50)
    return RedisStreamBus(REDIS_URL, stream=stream, consumer=consumer, **options)


async def next_batch(it: AsyncIterator[Sequence[CheckResult]]) -> Sequence[CheckResult]:
    async with asyncio.timeout(5):
        return await anext(it)


async def kill_clients(client: Redis, name: str) -> int:
    """Drop the server side of every connection named ``name`` (and only those)."""
    killed = 0
    for info in await client.client_list():
        if info.get("name") == name:
            await client.client_kill_filter(_id=info["id"])
            killed += 1
    return killed


async def pending(client: Redis, stream: str) -> int:
    summary: Any = await client.xpending(stream, "evaluators")
    return int(summary["pending"])


async def test_published_batches_arrive_unchanged_and_in_order(
    stream: tuple[Redis, str],
) -> None:
    client, key = stream
    b = bus(key, "one")
    await b.start()
    sent = [[result(0), result(1, ok=False)], [result(2)]]
    for batch in sent:
        await b.publish(batch)
    await b.publish([])  # nothing to hand over: no entry
    assert await client.xlen(key) == 2

    it = b.batches()
    assert list(await next_batch(it)) == sent[0]
    assert list(await next_batch(it)) == sent[1]
    assert await pending(client, key) == 1  # the batch being processed
    await b.ack_pending()
    assert await pending(client, key) == 0
    await it.aclose()
    await b.close()


async def test_asking_for_the_next_batch_acknowledges_the_previous(
    stream: tuple[Redis, str],
) -> None:
    client, key = stream
    b = bus(key, "one")
    await b.start()
    await b.publish([result(0)])
    await b.publish([result(1)])
    it = b.batches()
    await next_batch(it)
    assert await pending(client, key) == 2  # both read, neither processed
    await next_batch(it)
    assert await pending(client, key) == 1
    await it.aclose()
    await b.close()


async def test_two_consumers_of_one_group_split_the_entries_without_overlap(
    stream: tuple[Redis, str],
) -> None:
    client, key = stream
    buses = {name: bus(key, name, batch_entries=4) for name in ("a", "b")}
    for b in buses.values():
        await b.start()
    seen: dict[str, list[uuid.UUID]] = {name: [] for name in buses}

    async def consume(name: str) -> None:
        async for batch in buses[name].batches():
            seen[name].extend(r.id for r in batch)
            await asyncio.sleep(0.005)  # processing takes time: the other consumer gets work

    tasks = [asyncio.create_task(consume(name)) for name in buses]
    sent = [result(i) for i in range(40)]
    for r in sent:
        await buses["a"].publish([r])
    async with asyncio.timeout(5):
        while len(seen["a"]) + len(seen["b"]) < len(sent):
            await asyncio.sleep(0.01)
    for b in buses.values():
        await b.close()
    async with asyncio.timeout(2):
        await asyncio.gather(*tasks)

    assert seen["a"] and seen["b"]
    assert not set(seen["a"]) & set(seen["b"])
    assert sorted(seen["a"] + seen["b"]) == sorted(r.id for r in sent)
    assert await pending(client, key) == 0  # close() let the last batches be acknowledged


async def test_a_killed_consumers_unacknowledged_batches_go_to_another_and_acked_ones_do_not(
    stream: tuple[Redis, str],
) -> None:
    client, key = stream
    victim = bus(key, "victim")
    await victim.start()
    sent = [[result(i)] for i in range(3)]
    for batch in sent:
        await victim.publish(batch)

    it = victim.batches()
    assert list(await next_batch(it)) == sent[0]
    assert list(await next_batch(it)) == sent[1]  # sent[0] is now acknowledged
    # Killed mid-batch: it never asks for the next one; its connections go away.
    await it.aclose()
    await victim.close()
    assert await pending(client, key) == 2  # sent[1] (being processed) and sent[2] (read)

    heir = bus(key, "heir", claim_idle_ms=100)
    await heir.start()
    it = heir.batches()
    got = [list(await next_batch(it)), list(await next_batch(it))]
    assert got == sent[1:]
    assert heir.claimed == 2
    with pytest.raises(TimeoutError):  # sent[0] never comes back, even after more claim rounds
        async with asyncio.timeout(0.5):
            await anext(it)
    assert await pending(client, key) == 0  # asking again acknowledged sent[2]
    await heir.close()


async def test_a_consumer_restarting_under_its_name_gets_its_own_pending_entries_back(
    stream: tuple[Redis, str],
) -> None:
    client, key = stream
    first = bus(key, "engine-1")
    await first.start()
    await first.publish([result(0)])
    it = first.batches()
    batch = await next_batch(it)
    await it.aclose()
    await first.close()

    again = bus(key, "engine-1", claim_idle_ms=50)
    it = again.batches()
    assert await next_batch(it) == batch
    await again.ack_pending()
    assert await pending(client, key) == 0
    await it.aclose()
    await again.close()


async def test_undecodable_entries_are_counted_acknowledged_and_skipped(
    stream: tuple[Redis, str],
) -> None:
    client, key = stream
    b = bus(key, "one")
    await b.start()
    await client.xadd(key, {"b": "not json"})
    await client.xadd(key, {"other": "field"})
    await client.xadd(key, {"b": b"\xff\xfe"})
    await client.xadd(key, {"b": '{"not": "a list"}'})
    await client.xadd(key, {"b": '[{"id": "nope"}]'})
    good = [result(0)]
    await b.publish(good)

    it = b.batches()
    assert list(await next_batch(it)) == good
    assert b.poisoned == 5
    assert await pending(client, key) == 1  # only the good one, until processed
    await b.ack_pending()
    assert await pending(client, key) == 0
    await it.aclose()
    await b.close()


async def test_close_ends_an_iterator_blocked_waiting_for_entries(
    stream: tuple[Redis, str],
) -> None:
    _client, key = stream
    b = bus(key, "one", block_ms=60_000)
    await b.start()
    received: list[Sequence[CheckResult]] = []

    async def consume() -> None:
        async for batch in b.batches():
            received.append(batch)

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.1)  # now blocked in XREADGROUP
    await b.close()
    async with asyncio.timeout(2):  # far less than block_ms: the read was interrupted
        await task
    assert received == []


async def test_a_consumer_that_closes_idle_leaves_the_group(stream: tuple[Redis, str]) -> None:
    client, key = stream
    b = bus(key, "short-lived")
    await b.start()
    await b.publish([result(0)])
    it = b.batches()
    await next_batch(it)
    await b.ack_pending()
    await it.aclose()
    await b.close()
    consumers: Any = await client.xinfo_consumers(key, "evaluators")
    assert consumers == []


async def test_a_deleted_stream_and_group_are_recreated(stream: tuple[Redis, str]) -> None:
    client, key = stream
    b = bus(key, "one")
    await b.start()
    it = b.batches()
    await client.delete(key)  # e.g. an operator flushed Redis
    await b.publish([result(0)])  # recreates the stream, not the group
    batch = await next_batch(it)
    assert [r.latency_ms for r in batch] == [12.5]
    await it.aclose()
    await b.close()


async def test_a_consumer_whose_connection_is_killed_reconnects_and_goes_on(
    stream: tuple[Redis, str],
) -> None:
    client, key = stream
    name = f"statpulse-test-{uuid.uuid4().hex[:8]}"
    b = RedisStreamBus(
        with_query(REDIS_URL, client_name=name), stream=key, consumer="one", block_ms=50
    )
    await b.start()
    it = b.batches()
    await b.publish([result(0)])
    await next_batch(it)
    assert await kill_clients(client, name) >= 1
    await b.publish([result(1)])
    assert [r.latency_ms for r in await next_batch(it)] == [13.5]
    await it.aclose()
    await b.close()


async def test_a_consumer_rides_out_a_redis_outage(stream: tuple[Redis, str]) -> None:
    _client, key = stream
    outage = Outage()
    await outage.restore()
    consumer = RedisStreamBus(outage.url, stream=key, consumer="one", block_ms=50)
    producer = bus(key, "producer")
    await producer.start()
    await consumer.start()
    received: list[Sequence[CheckResult]] = []

    async def consume() -> None:
        async for batch in consumer.batches():
            received.append(batch)

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.1)
    await outage.cut()
    await asyncio.sleep(1.0)  # longer than the client's own retries: the bus's loop waits it out
    await producer.publish([result(0)])
    await outage.restore()
    async with asyncio.timeout(5):
        while not received:
            await asyncio.sleep(0.02)
    assert [r.latency_ms for r in received[0]] == [12.5]
    await consumer.close()
    await producer.close()
    async with asyncio.timeout(2):
        await task
    await outage.cut()
