"""The incident workflow in the store, on every database: lifecycle, transitions checked in
the transaction, one open incident per monitor, TTPU, auto-publish, audit rows, overrides and
maintenances."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, time, timedelta

import pytest

from statpulse.engine.incidents import Impact, IncidentState, InvalidTransition, Override
from statpulse.engine.maintenance import MaintenanceWindow, WindowKind
from statpulse.model import MonitorConfig, Organization
from statpulse.store.contract import Conflict
from statpulse.store.sql import SqlStore

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
S = IncidentState


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


async def org_and_monitor(store: SqlStore) -> tuple[Organization, uuid.UUID]:
    org = await store.create_org("acme", "Acme")
    monitor = await store.create_monitor(
        org.id, MonitorConfig(name="API", kind="http", target="http://x/", regions=("eu",))
    )
    return org, monitor.id


async def test_an_incident_moves_through_its_lifecycle(store: SqlStore) -> None:
    org, _ = await org_and_monitor(store)
    created = await store.create_incident(
        org.id, "apikey:a", "Sara", title="Slow API", body="Looking", at=at(0), impact=Impact.MINOR
    )
    assert (created.status, created.published_at, created.ttpu_s) == ("investigating", None, None)
    for i, state in enumerate((S.IDENTIFIED, S.MONITORING, S.RESOLVED, S.POSTMORTEM), 1):
        updated = await store.add_incident_update(
            org.id, created.id, "apikey:a", "Sara", status=state, body=f"step {i}", at=at(i)
        )
        assert updated is not None and updated.status == state.value
    final = await store.get_incident(org.id, created.id)
    assert final is not None
    assert final.resolved_at == at(3)
    assert [u["status"] for u in final.updates] == [
        "investigating",
        "identified",
        "monitoring",
        "resolved",
        "postmortem",
    ]
    assert [u["author"] for u in final.updates] == ["Sara"] * 5


async def test_an_invalid_transition_changes_nothing(store: SqlStore) -> None:
    org, _ = await org_and_monitor(store)
    created = await store.create_incident(org.id, "a", "a", title="x", body="b", at=at(0))
    await store.add_incident_update(
        org.id, created.id, "a", "a", status=S.RESOLVED, body="ok", at=at(1)
    )
    await store.add_incident_update(
        org.id, created.id, "a", "a", status=S.POSTMORTEM, body="pm", at=at(2)
    )
    entries = len(await store.audit_log(org.id, 100))
    with pytest.raises(InvalidTransition):
        await store.add_incident_update(
            org.id, created.id, "a", "a", status=S.MONITORING, body="no", at=at(3)
        )
    after = await store.get_incident(org.id, created.id)
    assert after is not None
    assert (after.status, len(after.updates)) == ("postmortem", 3)
    assert len(await store.audit_log(org.id, 100)) == entries


async def test_one_open_incident_per_monitor_under_concurrent_creates(store: SqlStore) -> None:
    org, monitor_id = await org_and_monitor(store)

    async def create() -> object:
        try:
            return await store.create_incident(
                org.id, "a", "a", title="down", body="b", at=at(0), monitor_id=monitor_id
            )
        except Conflict as exc:
            return exc

    outcomes = await asyncio.gather(*(create() for _ in range(8)))
    conflicts = [o for o in outcomes if isinstance(o, Conflict)]
    assert len(conflicts) == 7
    assert all(c.field == "monitor_id" for c in conflicts)
    assert len(await store.list_incidents(org.id)) == 1
    # The engine's draft defers to the open incident too.
    assert await store.open_draft_incident(org.id, monitor_id, "t", "b", at(1)) is None


async def test_publishing_records_ttpu_once(store: SqlStore) -> None:
    org, monitor_id = await org_and_monitor(store)
    draft = await store.open_draft_incident(org.id, monitor_id, "down", "b", at(0))
    assert draft is not None
    first = await store.publish_incident(org.id, draft, "apikey:a", at(90))
    again = await store.publish_incident(org.id, draft, "apikey:a", at(500))
    assert first is not None and again is not None
    assert (first.published_at, first.ttpu_s) == (at(90), 90.0)
    assert (again.published_at, again.ttpu_s) == (at(90), 90.0)
    publishes = [e for e in await store.audit_log(org.id, 100) if e.action == "incident.publish"]
    assert len(publishes) == 1
    assert publishes[0].before is not None and publishes[0].before["published_at"] is None
    assert publishes[0].after is not None and publishes[0].after["ttpu_s"] == 90.0


async def test_drafts_are_auto_published_after_the_org_delay(store: SqlStore) -> None:
    org, monitor_id = await org_and_monitor(store)
    draft = await store.open_draft_incident(org.id, monitor_id, "down", "b", at(0))
    assert draft is not None
    other = await store.create_org("other", "Other")
    untouched = await store.create_incident(other.id, "a", "a", title="t", body="b", at=at(0))
    assert await store.auto_publish_due_drafts(at(3600)) == []  # off by default
    await store.set_auto_publish(org.id, "apikey:a", 300, at(1))
    assert await store.get_auto_publish(org.id) == 300
    assert await store.auto_publish_due_drafts(at(299)) == []
    assert await store.auto_publish_due_drafts(at(300)) == [draft]
    assert await store.auto_publish_due_drafts(at(400)) == []  # once
    got = await store.get_incident(org.id, draft)
    assert got is not None and (got.published_at, got.ttpu_s) == (at(300), 300.0)
    other_draft = await store.get_incident(other.id, untouched.id)
    assert other_draft is not None and other_draft.published_at is None
    actors = {e.action: e.actor for e in await store.audit_log(org.id, 100)}
    assert actors["incident.publish"] == "system"
    assert actors["settings.update"] == "apikey:a"


async def test_recovery_resolves_a_published_incident_only_when_auto_resolve(
    store: SqlStore,
) -> None:
    org, monitor_id = await org_and_monitor(store)
    kept = await store.create_incident(
        org.id, "a", "a", title="x", body="b", at=at(0), monitor_id=monitor_id,
        publish=True, auto_resolve=False,
    )  # fmt: skip
    assert await store.resolve_drafts(monitor_id, at(10), "recovered") == 0
    await store.add_incident_update(
        org.id, kept.id, "a", "a", status=S.RESOLVED, body="", at=at(11)
    )
    auto = await store.create_incident(
        org.id, "a", "a", title="y", body="b", at=at(20), monitor_id=monitor_id, publish=True
    )
    assert await store.resolve_drafts(monitor_id, at(30), "recovered") == 1
    got = await store.get_incident(org.id, auto.id)
    assert got is not None and (got.status, got.resolved_at) == ("resolved", at(30))


async def test_every_incident_change_is_audited_with_before_and_after(store: SqlStore) -> None:
    org, _ = await org_and_monitor(store)
    inc = await store.create_incident(org.id, "apikey:a", "a", title="x", body="b", at=at(0))
    await store.add_incident_update(
        org.id, inc.id, "apikey:a", "a", status=S.IDENTIFIED, body="found", at=at(1),
        impact=Impact.MAJOR,
    )  # fmt: skip
    await store.publish_incident(org.id, inc.id, "apikey:a", at(2))
    entries = await store.audit_log(org.id, 10, target_type="incident", target_id=inc.id)
    assert [e.action for e in entries] == ["incident.publish", "incident.update", "incident.create"]
    update = entries[1]
    assert update.before is not None and update.after is not None
    assert (update.before["status"], update.after["status"]) == ("investigating", "identified")
    assert (update.before["impact"], update.after["impact"]) == ("minor", "major")
    assert update.after["update"] == {"status": "identified", "body": "found"}
    assert entries[2].before is None and entries[2].actor == "apikey:a"
    page2 = await store.audit_log(org.id, 10, before=(entries[0].at, entries[0].id))
    assert [e.id for e in page2][:2] == [entries[1].id, entries[2].id]


async def test_incidents_are_paged_newest_first_and_scoped_to_their_org(store: SqlStore) -> None:
    org, _ = await org_and_monitor(store)
    other = await store.create_org("other", "Other")
    made = [
        await store.create_incident(org.id, "a", "a", title=f"i{n}", body="b", at=at(n))
        for n in range(5)
    ]
    first = await store.incident_page(org.id, 2)
    assert [i.title for i in first] == ["i4", "i3"]
    second = await store.incident_page(org.id, 2, before=(first[-1].started_at, first[-1].id))
    assert [i.title for i in second] == ["i2", "i1"]
    assert await store.get_incident(other.id, made[0].id) is None
    assert await store.publish_incident(other.id, made[0].id, "x", at(9)) is None
    assert (
        await store.add_incident_update(
            other.id, made[0].id, "x", "x", status=S.RESOLVED, body="", at=at(9)
        )
        is None
    )
    assert await store.incident_page(other.id, 10) == []


async def test_overrides_are_set_replaced_cleared_and_audited(store: SqlStore) -> None:
    org, _ = await org_and_monitor(store)
    other = await store.create_org("other", "Other")
    comp = await store.create_component(org.id, "API", "", None, [])
    assert await store.set_override(other.id, comp.id, "x", Override.DEGRADED, "", at(0)) is None
    await store.set_override(org.id, comp.id, "apikey:a", Override.DEGRADED, "slow", at(1))
    await store.set_override(org.id, comp.id, "apikey:a", Override.MAJOR_OUTAGE, "down", at(2))
    [current] = await store.list_overrides(org.id)
    assert (current.status, current.reason, current.set_by) == (
        Override.MAJOR_OUTAGE,
        "down",
        "apikey:a",
    )
    assert await store.clear_override(other.id, comp.id, "x", at(3)) is False
    assert await store.clear_override(org.id, comp.id, "apikey:a", at(3)) is True
    assert await store.list_overrides(org.id) == []
    entries = await store.audit_log(org.id, 10, target_type="component")
    changes = [(e.action, e.before, e.after) for e in entries]
    assert [(a, b and b["status"], c and c["status"]) for a, b, c in changes] == [
        ("override.clear", "major_outage", None),
        ("override.set", "degraded", "major_outage"),
        ("override.set", None, "degraded"),
    ]


async def test_maintenances_round_trip_and_are_audited(store: SqlStore) -> None:
    org, _ = await org_and_monitor(store)
    comp = await store.create_component(org.id, "API", "", None, [])
    weekly = MaintenanceWindow(
        WindowKind.WEEKLY, "Europe/Berlin", weekdays=(6,), start_time=time(2), duration_s=3600
    )
    m = await store.create_maintenance(
        org.id, "apikey:a", "DB", "upgrade", weekly, (comp.id,), at(0)
    )
    assert await store.get_maintenance(org.id, m.id) == m
    one_off = MaintenanceWindow(WindowKind.ONE_OFF, start=at(100), end=at(200))
    updated = await store.update_maintenance(
        org.id, m.id, "apikey:a", "DB", "moved", one_off, (), at(1)
    )
    assert updated is not None and updated.window == one_off
    assert await store.list_maintenances(org.id) == [updated]
    assert await store.delete_maintenance(org.id, m.id, "apikey:a", at(2))
    assert await store.get_maintenance(org.id, m.id) is None
    entries = await store.audit_log(org.id, 10, target_type="maintenance")
    assert [e.action for e in entries] == [
        "maintenance.delete",
        "maintenance.update",
        "maintenance.create",
    ]
    assert entries[1].before is not None and entries[1].before["window"]["kind"] == "weekly"
    assert entries[1].after is not None and entries[1].after["window"]["kind"] == "one_off"


async def test_reopening_clears_resolved_at_unless_the_monitor_has_another_open_incident(
    store: SqlStore,
) -> None:
    org, monitor_id = await org_and_monitor(store)
    first = await store.create_incident(
        org.id, "a", "a", title="x", body="b", at=at(0), monitor_id=monitor_id
    )
    await store.add_incident_update(
        org.id, first.id, "a", "a", status=S.RESOLVED, body="", at=at(1)
    )
    reopened = await store.add_incident_update(
        org.id, first.id, "a", "a", status=S.INVESTIGATING, body="back", at=at(2)
    )
    assert reopened is not None and (reopened.status, reopened.resolved_at) == (
        "investigating",
        None,
    )
    await store.add_incident_update(
        org.id, first.id, "a", "a", status=S.RESOLVED, body="", at=at(3)
    )
    await store.create_incident(
        org.id, "a", "a", title="y", body="b", at=at(4), monitor_id=monitor_id
    )
    with pytest.raises(Conflict) as raised:
        await store.add_incident_update(
            org.id, first.id, "a", "a", status=S.INVESTIGATING, body="again", at=at(5)
        )
    assert raised.value.field == "status"
    unchanged = await store.get_incident(org.id, first.id)
    assert unchanged is not None and (unchanged.status, len(unchanged.updates)) == ("resolved", 4)
