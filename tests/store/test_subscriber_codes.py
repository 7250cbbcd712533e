"""The confirmation codes of SMS subscribers in the store (SQLite, PostgreSQL, PostgreSQL
through PgBouncer): replaced whole, attempts counted before the hash is read and capped,
cleared, and gone with their subscriber."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from statpulse.model import new_id, utcnow
from statpulse.store.sql import SqlStore
from statpulse.store.sql_subscribers import Subscriber


async def _subscriber(store: SqlStore) -> Subscriber:
    org = await store.create_org("acme", "Acme")
    page = await store.create_page(org.id, "acme", "Acme", "")
    sub_id = new_id()
    sub = Subscriber(
        id=sub_id,
        org_id=org.id,
        page_id=page.id,
        channel_id=sub_id,
        kind="sms",
        address="+447700900123",
        components=(),
        nonce="n" * 32,
        page_url="http://test/s/acme",
        unsubscribe_url="http://test/s/acme/unsubscribe/x",
        confirmed_at=None,
        created_at=utcnow(),
    )
    config = {"url": "http://127.0.0.1:9/", "secret": "whsec_" + "A" * 32}
    return await store.create_subscriber(sub, "webhook", config, ("secret",))


async def test_attempts_are_counted_and_capped(store: SqlStore) -> None:
    sub = await _subscriber(store)
    expires = utcnow() + timedelta(minutes=10)
    assert await store.spend_subscriber_code(sub.id, 5) is None  # no code yet
    await store.set_subscriber_code(sub.id, "a" * 64, expires)
    for _ in range(3):
        found = await store.spend_subscriber_code(sub.id, 3)
        assert found is not None and found[0] == "a" * 64
        assert abs((found[1] - expires).total_seconds()) < 1
    assert await store.spend_subscriber_code(sub.id, 3) is None
    await store.set_subscriber_code(sub.id, "b" * 64, expires)  # a new code: attempts from 0
    found = await store.spend_subscriber_code(sub.id, 3)
    assert found is not None and found[0] == "b" * 64
    await store.clear_subscriber_code(sub.id)
    assert await store.spend_subscriber_code(sub.id, 3) is None


async def test_concurrent_attempts_never_exceed_the_cap(store: SqlStore) -> None:
    sub = await _subscriber(store)
    await store.set_subscriber_code(sub.id, "c" * 64, utcnow() + timedelta(minutes=10))
    tries = await asyncio.gather(*(store.spend_subscriber_code(sub.id, 5) for _ in range(12)))
    assert sum(found is not None for found in tries) == 5


async def test_the_code_goes_with_its_subscriber(store: SqlStore) -> None:
    sub = await _subscriber(store)
    await store.set_subscriber_code(sub.id, "d" * 64, utcnow() + timedelta(minutes=10))
    assert await store.delete_subscriber(None, sub.id)
    assert await store.spend_subscriber_code(sub.id, 5) is None
