"""The outbox dispatcher against a real store and a recording webhook receiver."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

from standardwebhooks import Webhook

from statpulse.notify import NOTIFIERS, HttpSender
from statpulse.notify.dispatcher import (
    Dispatcher,
    RetryPolicy,
    message_doc,
)
from statpulse.notify.signing import new_secret
from statpulse.store.sql import SqlStore
from tests.notify.conftest import Recorder

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


async def setup(store: SqlStore, url: str, secret: str, events: tuple[str, ...] = ()):  # type: ignore[no-untyped-def]
    org = await store.create_org("acme", "Acme")
    webhook = NOTIFIERS["webhook"]
    config = webhook.validate({"url": url, "secret": secret})
    channel = await store.create_channel(
        org.id, "webhook", "ops", config, webhook.secret_fields(), events
    )
    return org, channel


def dispatcher(store: SqlStore, http: HttpSender, clock: Clock) -> Dispatcher:
    return Dispatcher(store, http, NOTIFIERS, clock=clock, rng=random.Random(7))


async def test_a_state_change_is_delivered_once_signed_per_standard_webhooks(
    store: SqlStore, server: Recorder, http: HttpSender, make_message
) -> None:
    secret = new_secret()
    org, channel = await setup(store, server.url + "/hook", secret)
    doc = message_doc(make_message(event="monitor.down"))
    assert await store.enqueue(org.id, "monitor.down", "change:1", doc, T0) == 1
    assert await store.enqueue(org.id, "monitor.down", "change:1", doc, T0) == 0  # same change
    clock = Clock()
    assert await dispatcher(store, http, clock).drain() == 1
    assert len(server.received) == 1
    got = server.last
    Webhook(secret).verify(got.body, got.headers)
    assert got.json()["type"] == "monitor.down"
    [row] = await store.outbox_rows(channel.id)
    assert row["state"] == "sent" and got.headers["webhook-id"] == str(row["id"])


async def test_a_channel_only_gets_the_events_it_asked_for(
    store: SqlStore, server: Recorder, make_message
) -> None:
    org, channel = await setup(store, server.url, new_secret(), events=("monitor.down",))
    doc = message_doc(make_message(event="monitor.up"))
    assert await store.enqueue(org.id, "monitor.up", "change:2", doc, T0) == 0
    assert await store.outbox_rows(channel.id) == []


async def test_a_500_is_retried_with_backoff_and_a_429_waits_its_retry_after(
    store: SqlStore, server: Recorder, http: HttpSender, make_message
) -> None:
    org, channel = await setup(store, server.url, new_secret())
    await store.enqueue(org.id, "monitor.down", "c", message_doc(make_message()), T0)
    server.answer(500)
    server.answer(429, headers={"Retry-After": "120"})
    clock = Clock()
    d = dispatcher(store, http, clock)
    assert await d.drain() == 1  # failed, due again later
    [row] = await store.outbox_rows(channel.id)
    assert row["state"] == "pending" and row["attempts"] == 1
    assert T0 < row["next_attempt_at"] <= T0 + timedelta(seconds=RetryPolicy().base_s)
    clock.now = row["next_attempt_at"]
    assert await d.drain() == 1
    [row] = await store.outbox_rows(channel.id)
    assert row["next_attempt_at"] >= clock.now + timedelta(seconds=120)
    clock.now = row["next_attempt_at"]
    assert await d.drain() == 1
    [row] = await store.outbox_rows(channel.id)
    assert row["state"] == "sent" and row["attempts"] == 3
    ids = {r.headers["webhook-id"] for r in server.received}
    assert len(server.received) == 3 and len(ids) == 1  # the same idempotency key each time


async def test_a_410_disables_the_channel_and_shows_the_error(
    store: SqlStore, server: Recorder, http: HttpSender, make_message
) -> None:
    org, channel = await setup(store, server.url, new_secret())
    await store.enqueue(org.id, "monitor.down", "c", message_doc(make_message()), T0)
    server.answer(410)
    await dispatcher(store, http, Clock()).drain()
    [row] = await store.outbox_rows(channel.id)
    assert row["state"] == "dead"
    found = await store.get_channel(org.id, channel.id)
    assert found is not None and not found.enabled and "410" in (found.last_error or "")
    # Disabled: later changes are not queued for it.
    assert await store.enqueue(org.id, "monitor.up", "d", message_doc(make_message()), T0) == 0


async def test_two_dispatchers_claiming_at_once_never_take_the_same_row(
    store: SqlStore, server: Recorder, make_message
) -> None:
    org, _ = await setup(store, server.url, new_secret())
    for i in range(20):
        await store.enqueue(org.id, "monitor.down", f"c{i}", message_doc(make_message()), T0)
    lease = timedelta(seconds=60)
    claims = await asyncio.gather(*(store.claim_outbox(T0, lease, 7) for _ in range(4)))
    ids = [item.id for claim in claims for item in claim]
    assert len(ids) == 20 and len(set(ids)) == 20
