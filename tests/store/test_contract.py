"""The storage contract, run on SQLite and PostgreSQL (the ``store`` fixture)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from statpulse.model import (
    CheckResult,
    ErrorClass,
    Evaluation,
    HttpOptions,
    Monitor,
    MonitorConfig,
    Phases,
    RegionState,
    Scope,
    StateChange,
    Status,
    new_id,
)
from statpulse.store.contract import Conflict
from statpulse.store.sql import SqlStore

T0 = datetime(2026, 11, 20, 23, 59, 50, tzinfo=UTC)


def config(name: str = "api", **changes: object) -> MonitorConfig:
    base = MonitorConfig(
        name=name,
        kind="http",
        target="https://example.com/health",
        interval_s=30,
        timeout_s=5,
        regions=("eu", "us"),
        http=HttpOptions(method="POST", headers={"X-Token": "s3cret"}, body="{}"),
        conditions=("[STATUS] == 200",),
    )
    return replace(base, **changes)


def result(
    monitor_id: uuid.UUID,
    at: datetime,
    *,
    ok: bool = True,
    latency: float | None = 100.0,
    region: str = "eu",
    degraded: bool = False,
) -> CheckResult:
    return CheckResult(
        id=new_id(),
        monitor_id=monitor_id,
        region=region,
        scheduled_at=at,
        started_at=at + timedelta(microseconds=300),
        latency_ms=latency,
        ok=ok,
        degraded=degraded,
        status_code=200 if ok else 503,
        phases=Phases(dns_ms=1.5, connect_ms=2.0, tls_ms=None, first_byte_ms=50.25),
        error_class=None if ok else ErrorClass.HTTP_STATUS,
        error_message=None if ok else "[STATUS] (503) == 200",
    )


async def test_org_slug_is_unique(store: SqlStore) -> None:
    await store.create_org("acme", "Acme")
    with pytest.raises(Conflict) as err:
        await store.create_org("acme", "Other")
    assert err.value.field == "slug"


async def test_org_is_found_by_slug(store: SqlStore) -> None:
    org = await store.create_org("acme", "Acme")
    assert await store.get_org_by_slug("acme") == org
    assert await store.get_org_by_slug("nope") is None


async def test_api_key_is_found_by_prefix_with_its_hash(store: SqlStore) -> None:
    org = await store.create_org("acme", "Acme")
    key = await store.create_api_key(org.id, "ci", Scope.READ, "abcdef012345", "h" * 64)
    found = await store.find_api_key("abcdef012345")
    assert found == (key, "h" * 64)
    assert await store.find_api_key("000000000000") is None


async def test_monitor_round_trips_every_field(store: SqlStore) -> None:
    org = await store.create_org("acme", "Acme")
    created = await store.create_monitor(org.id, config())
    got = await store.get_monitor(org.id, created.id)
    assert got == created
    assert got.config.http.headers == {"X-Token": "s3cret"}
    assert got.status is Status.UNKNOWN
    assert got.created_at.tzinfo is UTC


async def test_monitor_ids_are_uuid7(store: SqlStore) -> None:
    org = await store.create_org("acme", "Acme")
    created = await store.create_monitor(org.id, config())
    assert created.id.version == 7


async def test_monitors_are_invisible_to_other_tenants(store: SqlStore) -> None:
    acme = await store.create_org("acme", "Acme")
    evil = await store.create_org("evil", "Evil")
    m = await store.create_monitor(acme.id, config())
    assert await store.get_monitor(evil.id, m.id) is None
    assert await store.list_monitors(evil.id) == []
    assert await store.update_monitor(evil.id, m.id, config("hacked")) is None
    assert await store.set_paused(evil.id, m.id, True) is None
    assert await store.delete_monitor(evil.id, m.id) is False
    still = await store.get_monitor(acme.id, m.id)
    assert still is not None and still.config.name == "api" and not still.paused


async def test_update_replaces_config_and_bumps_updated_at(store: SqlStore) -> None:
    org = await store.create_org("acme", "Acme")
    m = await store.create_monitor(org.id, config())
    updated = await store.update_monitor(org.id, m.id, config("renamed", interval_s=60))
    assert updated is not None
    assert updated.config.name == "renamed" and updated.config.interval_s == 60
    assert updated.updated_at >= m.updated_at


async def test_pause_sets_status_and_records_the_change(store: SqlStore) -> None:
    org = await store.create_org("acme", "Acme")
    m = await store.create_monitor(org.id, config())
    paused = await store.set_paused(org.id, m.id, True)
    assert paused is not None and paused.paused and paused.status is Status.PAUSED
    resumed = await store.set_paused(org.id, m.id, False)
    assert resumed is not None and not resumed.paused and resumed.status is Status.UNKNOWN
    changes = await store.state_changes(m.id, 10)
    assert [(c.from_status, c.to_status) for c in changes] == [
        (Status.PAUSED, Status.UNKNOWN),
        (Status.UNKNOWN, Status.PAUSED),
    ]


async def test_monitors_for_region_skips_paused_and_other_regions(store: SqlStore) -> None:
    org = await store.create_org("acme", "Acme")
    eu = await store.create_monitor(org.id, config("eu", regions=("eu",)))
    await store.create_monitor(org.id, config("us", regions=("us",)))
    paused = await store.create_monitor(org.id, config("paused", regions=("eu",)))
    await store.set_paused(org.id, paused.id, True)
    assert [m.id for m in await store.monitors_for_region("eu")] == [eu.id]


async def test_add_results_is_idempotent_on_result_id(store: SqlStore) -> None:
    org = await store.create_org("acme", "Acme")
    m = await store.create_monitor(org.id, config())
    batch = [result(m.id, T0 + timedelta(seconds=i)) for i in range(5)]
    assert await store.add_results(batch) == 5
    assert await store.add_results(batch) == 0
    assert await store.add_results([*batch[:2], batch[2], batch[2]]) == 0
    assert len(await store.recent_results(m.id, 100)) == 5


async def test_results_round_trip_with_phases_and_errors(store: SqlStore) -> None:
    org = await store.create_org("acme", "Acme")
    m = await store.create_monitor(org.id, config())
    r = result(m.id, T0, ok=False, latency=12.5)
    await store.add_results([r])
    assert await store.recent_results(m.id, 1) == [r]


async def test_latency_samples_cover_a_half_open_range(store: SqlStore) -> None:
    org = await store.create_org("acme", "Acme")
    m = await store.create_monitor(org.id, config())
    results = [result(m.id, T0 + timedelta(seconds=10 * i), latency=float(i)) for i in range(6)]
    await store.add_results(results)
    start = results[1].started_at
    end = results[4].started_at
    samples = await store.latency_samples(m.id, start, end)
    assert sorted(s.latency_ms for s in samples if s.latency_ms is not None) == [1.0, 2.0, 3.0]


async def test_daily_uptime_groups_by_utc_day(store: SqlStore) -> None:
    org = await store.create_org("acme", "Acme")
    m = await store.create_monitor(org.id, config())
    # T0 is 23:59:50 UTC: the first two results fall on the 20th, the rest on the 21st.
    await store.add_results(
        [
            result(m.id, T0, ok=True),
            result(m.id, T0 + timedelta(seconds=5), ok=False),
            result(m.id, T0 + timedelta(seconds=10), ok=True, degraded=True),
            result(m.id, T0 + timedelta(seconds=20), ok=True),
            result(m.id, T0 + timedelta(seconds=30), ok=True),
        ]
    )
    days = await store.daily_uptime([m.id], T0 - timedelta(days=1), T0 + timedelta(days=1))
    assert [(d.day, d.checks, d.ok, d.degraded) for d in days[m.id]] == [
        ("2026-11-20", 2, 1, 0),
        ("2026-11-21", 3, 3, 1),
    ]


async def test_delete_monitor_removes_its_results(store: SqlStore) -> None:
    org = await store.create_org("acme", "Acme")
    m = await store.create_monitor(org.id, config())
    await store.add_results([result(m.id, T0)])
    assert await store.delete_monitor(org.id, m.id) is True
    assert await store.get_monitor(org.id, m.id) is None
    assert await store.recent_results(m.id, 10) == []


async def test_save_evaluation_upserts_region_states_and_records_changes(store: SqlStore) -> None:
    org = await store.create_org("acme", "Acme")
    m = await store.create_monitor(org.id, config())
    state = RegionState(m.id, "eu", Status.DOWN, Status.DOWN, 2, T0, "boom")
    change = StateChange(new_id(), m.id, Status.UNKNOWN, Status.DOWN, T0, "1 of 1 regions failing")
    await store.save_evaluation([state], {m.id: (Status.DOWN, T0)}, [change])
    newer = RegionState(m.id, "eu", Status.UP, Status.UP, 1, T0 + timedelta(seconds=30), None)
    await store.save_evaluation([newer], {}, [])
    assert await store.region_states([m.id]) == [newer]
    got = await store.get_monitor(org.id, m.id)
    assert got is not None and got.status is Status.DOWN and got.status_changed_at == T0
    assert await store.state_changes(m.id, 10) == [change]


async def test_evaluate_locked_decides_on_the_live_monitors_and_their_stored_states(
    store: SqlStore,
) -> None:
    org = await store.create_org("acme", "Acme")
    m = await store.create_monitor(org.id, config())
    paused = await store.create_monitor(org.id, config())
    await store.set_paused(org.id, paused.id, True)
    bare = await store.create_monitor(org.id, config())  # no region state yet
    states = [
        RegionState(m.id, "eu", Status.DOWN, Status.DOWN, 2, T0, 'boom "quoted"'),
        RegionState(m.id, "us", Status.UP, Status.UP, 7, T0 + timedelta(microseconds=1), None),
    ]
    await store.save_evaluation(states, {m.id: (Status.DOWN, T0)}, [])
    seen: list[tuple[dict[uuid.UUID, Status], list[RegionState]]] = []

    async def decide(live: Mapping[uuid.UUID, Monitor], stored: list[RegionState]) -> Evaluation:
        seen.append(({i: monitor.status for i, monitor in live.items()}, stored))
        return Evaluation([], {}, [])

    await store.evaluate_locked([m.id, paused.id, bare.id, new_id()], decide)
    [(live, stored)] = seen
    assert live == {m.id: Status.DOWN, bare.id: Status.UNKNOWN}
    assert sorted(stored, key=lambda s: s.region) == states


async def test_save_evaluation_skips_deleted_monitors(store: SqlStore) -> None:
    org = await store.create_org("acme", "Acme")
    m = await store.create_monitor(org.id, config())
    await store.delete_monitor(org.id, m.id)
    state = RegionState(m.id, "eu", Status.UP, Status.UP, 1, T0, None)
    change = StateChange(new_id(), m.id, Status.UNKNOWN, Status.UP, T0, "")
    await store.save_evaluation([state], {m.id: (Status.UP, T0)}, [change])
    assert await store.region_states([m.id]) == []


async def test_page_slug_is_unique(store: SqlStore) -> None:
    org = await store.create_org("acme", "Acme")
    await store.create_page(org.id, "status", "Acme status", "")
    with pytest.raises(Conflict):
        await store.create_page(org.id, "status", "Again", "")


async def test_page_components_keep_their_order_and_monitor(store: SqlStore) -> None:
    org = await store.create_org("acme", "Acme")
    page = await store.create_page(org.id, "status", "Acme status", "")
    m = await store.create_monitor(org.id, config())
    first = await store.create_component(org.id, "API", "", m.id, [page.id])
    second = await store.create_component(org.id, "Docs", "static", None, [page.id])
    listed = await store.page_components(page.id)
    assert [(c.id, mon.id if mon else None) for c, mon in listed] == [
        (first.id, m.id),
        (second.id, None),
    ]
    assert await store.get_page("status") == page
    assert await store.list_pages(org.id) == [page]
    assert await store.list_components(org.id) == [first, second]


async def test_audit_entries_are_newest_first(store: SqlStore) -> None:
    org = await store.create_org("acme", "Acme")
    target = new_id()
    await store.audit(org.id, "apikey:x", "monitor.create", "monitor", target, None, {"a": 1})
    await store.audit(org.id, "apikey:x", "monitor.delete", "monitor", target, {"a": 1}, None)
    entries = await store.audit_entries(org.id, 10)
    assert [e["action"] for e in entries] == ["monitor.delete", "monitor.create"]
    assert entries[1]["after"] == {"a": 1}
