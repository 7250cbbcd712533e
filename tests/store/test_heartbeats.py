"""Push state of heartbeat monitors in the store, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from statpulse.model import Monitor, MonitorConfig
from statpulse.store.contract import HEARTBEAT_KIND, PUSH_REGION, Signal
from statpulse.store.sql import SqlStore

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
TOKEN = "a" * 32


def heartbeat_config(name: str = "backup") -> MonitorConfig:
    return MonitorConfig(name=name, kind=HEARTBEAT_KIND, target="", regions=(PUSH_REGION,))


async def heartbeat(store: SqlStore, token: str = TOKEN, org: str = "acme") -> Monitor:
    found = await store.get_org_by_slug(org)
    org_id = found.id if found else (await store.create_org(org, org.title())).id
    monitor = await store.create_monitor(org_id, heartbeat_config())
    assert await store.ensure_heartbeat(monitor.id, token, T0) == token
    return monitor


async def test_ensure_heartbeat_keeps_the_first_token(store: SqlStore) -> None:
    monitor = await heartbeat(store)
    assert await store.ensure_heartbeat(monitor.id, "b" * 32, T0 + timedelta(hours=1)) == TOKEN
    found = await store.heartbeat_by_token(TOKEN)
    assert found is not None
    got, state = found
    assert got.id == monitor.id and got.config.kind == HEARTBEAT_KIND
    assert (state.token, state.since_at, state.version) == (TOKEN, T0, 0)
    assert state.last_success_at is state.last_fail_at is state.last_start_at is None
    assert await store.push_tokens([monitor.id, uuid.uuid4()]) == {monitor.id: TOKEN}


async def test_an_unknown_token_finds_nothing(store: SqlStore) -> None:
    await heartbeat(store)
    assert await store.heartbeat_by_token("b" * 32) is None


async def test_tokens_are_unique(store: SqlStore) -> None:
    await heartbeat(store)
    with pytest.raises(sa.exc.IntegrityError):
        await heartbeat(store)


async def test_a_monitor_no_longer_of_kind_heartbeat_is_not_found_by_its_token(
    store: SqlStore,
) -> None:
    monitor = await heartbeat(store)
    config = MonitorConfig(name="api", kind="http", target="http://x/")
    await store.update_monitor(monitor.org_id, monitor.id, config)
    assert await store.heartbeat_by_token(TOKEN) is None
    assert await store.due_heartbeats() == []


async def test_record_ping_sets_the_signal_time_and_bumps_the_version(store: SqlStore) -> None:
    monitor = await heartbeat(store)
    await store.record_ping(monitor.id, Signal.START, T0 + timedelta(seconds=1))
    await store.record_ping(monitor.id, Signal.SUCCESS, T0 + timedelta(seconds=2))
    await store.record_ping(monitor.id, Signal.FAIL, T0 + timedelta(seconds=3))
    found = await store.heartbeat_by_token(TOKEN)
    assert found is not None
    state = found[1]
    assert state.last_start_at == T0 + timedelta(seconds=1)
    assert state.last_success_at == T0 + timedelta(seconds=2)
    assert state.last_fail_at == T0 + timedelta(seconds=3)
    assert state.version == 3


async def test_rotation_replaces_the_token_of_the_owner_only(store: SqlStore) -> None:
    monitor = await heartbeat(store)
    other = await store.create_org("other", "Other")
    assert not await store.rotate_push_token(other.id, monitor.id, "c" * 32)
    assert await store.heartbeat_by_token(TOKEN) is not None
    assert await store.rotate_push_token(monitor.org_id, monitor.id, "d" * 32)
    assert await store.heartbeat_by_token(TOKEN) is None
    found = await store.heartbeat_by_token("d" * 32)
    assert found is not None and found[0].id == monitor.id


async def test_restart_counts_silence_from_then_for_the_owner_only(store: SqlStore) -> None:
    monitor = await heartbeat(store)
    other = await store.create_org("other", "Other")
    later = T0 + timedelta(hours=2)
    await store.restart_heartbeat(other.id, monitor.id, later)
    found = await store.heartbeat_by_token(TOKEN)
    assert found is not None and found[1].since_at == T0
    await store.restart_heartbeat(monitor.org_id, monitor.id, later)
    found = await store.heartbeat_by_token(TOKEN)
    assert found is not None and (found[1].since_at, found[1].version) == (later, 1)


async def test_due_heartbeats_lists_unpaused_heartbeat_monitors(store: SqlStore) -> None:
    running = await heartbeat(store)
    paused = await heartbeat(store, "p" * 32)
    await store.set_paused(paused.org_id, paused.id, True)
    await store.create_monitor(running.org_id, MonitorConfig("api", "http", "http://x/"))
    assert [m.id for m, _ in await store.due_heartbeats()] == [running.id]


async def test_a_claim_needs_the_version_it_read(store: SqlStore) -> None:
    monitor = await heartbeat(store)
    deadline = T0 + timedelta(minutes=2)
    await store.record_ping(monitor.id, Signal.SUCCESS, T0)  # version 0 -> 1
    assert not await store.claim_overdue(monitor.id, 0, deadline)
    assert await store.claim_overdue(monitor.id, 1, deadline)
    found = await store.heartbeat_by_token(TOKEN)
    assert found is not None and (found[1].last_overdue_at, found[1].version) == (deadline, 2)


async def test_of_concurrent_claims_exactly_one_wins(store: SqlStore) -> None:
    monitor = await heartbeat(store)
    deadline = T0 + timedelta(minutes=2)
    wins = await asyncio.gather(*(store.claim_overdue(monitor.id, 0, deadline) for _ in range(8)))
    assert sorted(wins) == [False] * 7 + [True]


async def test_deleting_the_monitor_deletes_its_push_state(store: SqlStore) -> None:
    monitor = await heartbeat(store)
    assert await store.delete_monitor(monitor.org_id, monitor.id)
    assert await store.heartbeat_by_token(TOKEN) is None
    assert await store.push_tokens([monitor.id]) == {}
