"""SLOs in the store and their status read from rollups (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from statpulse.engine.slo import SloState
from statpulse.model import CheckResult, MonitorConfig, Slo, SloKind, new_id, utcnow
from statpulse.reports.slo_status import slo_status
from statpulse.store.sql import SqlStore

NOW = datetime(2026, 11, 23, 12, 0, 30, tzinfo=UTC)


def slo(org_id: uuid.UUID, **changes: Any) -> Slo:
    base = Slo(
        id=new_id(),
        org_id=org_id,
        name="api availability",
        kind=SloKind.AVAILABILITY,
        monitor_id=None,
        component_id=None,
        target_pct=99.0,
        threshold_ms=None,
        window_days=30,
        created_at=utcnow(),
    )
    return replace(base, **changes)


def check(monitor_id: uuid.UUID, at: datetime, ok: bool, latency_ms: float) -> CheckResult:
    return CheckResult(new_id(), monitor_id, "eu", at, at, latency_ms, ok)


async def monitor(store: SqlStore, org_id: uuid.UUID) -> uuid.UUID:
    config = MonitorConfig(name="api", kind="http", target="https://example.com", interval_s=60)
    return (await store.create_monitor(org_id, config)).id


async def test_slos_are_stored_listed_and_deleted_per_organisation(store: SqlStore) -> None:
    org = await store.create_org("acme", "Acme")
    other = await store.create_org("other", "Other")
    m = await monitor(store, org.id)
    first = await store.create_slo(slo(org.id, monitor_id=m))
    second = await store.create_slo(
        slo(org.id, monitor_id=m, kind=SloKind.LATENCY, target_pct=95.0, threshold_ms=300.0)
    )
    assert await store.list_slos(org.id) == [first, second]
    assert await store.get_slo(org.id, second.id) == second
    assert await store.get_slo(other.id, first.id) is None
    assert await store.list_slos(other.id) == []
    assert await store.delete_slo(other.id, first.id) is False
    assert await store.delete_slo(org.id, first.id) is True
    assert await store.list_slos(org.id) == [second]


async def test_deleting_the_monitor_or_component_deletes_its_slos(store: SqlStore) -> None:
    org = await store.create_org("acme", "Acme")
    m = await monitor(store, org.id)
    component = await store.create_component(org.id, "API", "", m, [])
    await store.create_slo(slo(org.id, monitor_id=m))
    on_component = await store.create_slo(slo(org.id, component_id=component.id))
    assert await store.delete_monitor(org.id, m)
    assert await store.list_slos(org.id) == [on_component]  # the component stays, monitorless


async def test_an_slo_needs_exactly_one_target(store: SqlStore) -> None:
    org = await store.create_org("acme", "Acme")
    with pytest.raises(sa.exc.IntegrityError):
        await store.create_slo(slo(org.id))


async def test_status_counts_good_events_over_the_window_and_recent_hours(
    store: SqlStore,
) -> None:
    org = await store.create_org("acme", "Acme")
    m = await monitor(store, org.id)
    # Two days ago: 96 checks, 2 failed. The last hour: 60 checks, 1 failed, 3 slow.
    old = [
        check(m, NOW - timedelta(days=2, minutes=i), ok=i not in (10, 20), latency_ms=100.0)
        for i in range(96)
    ]
    recent = [
        check(m, NOW - timedelta(minutes=i + 1), ok=i != 5, latency_ms=500.0 if i < 3 else 120.0)
        for i in range(60)
    ]
    await store.add_results(old + recent)

    availability = await store.create_slo(slo(org.id, monitor_id=m, target_pct=99.0))
    s = await slo_status(store, availability, NOW)
    assert (s.window.good, s.window.total) == (153, 156)
    assert s.report.sli_pct == pytest.approx(100 * 153 / 156)
    assert s.report.status is SloState.BREACHED
    assert s.report.burn_rate_1h == pytest.approx((1 / 60) / 0.01)
    assert s.report.burn_rate_6h == pytest.approx((1 / 60) / 0.01)
    assert s.start == NOW - timedelta(days=30) and s.end == NOW

    latency = await store.create_slo(
        slo(org.id, monitor_id=m, kind=SloKind.LATENCY, target_pct=95.0, threshold_ms=300.0)
    )
    s = await slo_status(store, latency, NOW)
    assert (s.window.good, s.window.total) == (150, 153)  # ok checks only; 3 slow
    assert s.report.status is SloState.OK  # 3 slow of 59 in the last hour: burning at ~1x
    assert s.report.burn_rate_1h == pytest.approx((3 / 59) / 0.05)


async def test_a_component_slo_is_measured_by_its_monitor(store: SqlStore) -> None:
    org = await store.create_org("acme", "Acme")
    m = await monitor(store, org.id)
    component = await store.create_component(org.id, "API", "", m, [])
    bare = await store.create_component(org.id, "Docs", "", None, [])
    await store.add_results(
        [check(m, NOW - timedelta(minutes=i + 1), True, 50.0) for i in range(10)]
    )
    s = await slo_status(store, await store.create_slo(slo(org.id, component_id=component.id)), NOW)
    assert s.monitor_id == m and (s.window.good, s.window.total) == (10, 10)
    assert s.report.status is SloState.OK
    s = await slo_status(store, await store.create_slo(slo(org.id, component_id=bare.id)), NOW)
    assert s.monitor_id is None and s.report.status is SloState.NO_DATA
