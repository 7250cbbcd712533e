"""The incident jobs against a real store: auto-publishing drafts, announcing maintenance once,
and holding back alerts of a monitor under maintenance."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime, timedelta

import aiohttp
from aiohttp import web

from statpulse.bus.live import Broadcaster
from statpulse.bus.memory import MemoryBus
from statpulse.engine.evaluator import Evaluator
from statpulse.engine.incident_jobs import IncidentJobs
from statpulse.engine.maintenance import MaintenanceWindow, WindowKind
from statpulse.engine.narrative import Draft, Evidence
from statpulse.engine.narrative_llm import Rewriter, Rewritten
from statpulse.metrics import Metrics
from statpulse.model import CheckResult, MonitorConfig, new_id
from statpulse.notify import NOTIFIERS
from statpulse.notify.signing import new_secret
from statpulse.store.sql import SqlStore

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


async def _org_with_channel(store: SqlStore):  # type: ignore[no-untyped-def]
    org = await store.create_org("acme", "Acme")
    config = NOTIFIERS["webhook"].validate({"url": "http://127.0.0.1:9/", "secret": new_secret()})
    channel = await store.create_channel(org.id, "webhook", "ops", config, ("secret",))
    monitor = await store.create_monitor(
        org.id,
        MonitorConfig(
            name="api", kind="http", target="http://x/", interval_s=10, failure_threshold=1
        ),
    )
    component = await store.create_component(org.id, "API", "", monitor.id, [])
    return org, channel, monitor, component


def _window() -> MaintenanceWindow:
    return MaintenanceWindow(
        kind=WindowKind.ONE_OFF, start=T0 + timedelta(minutes=1), end=T0 + timedelta(minutes=31)
    )


async def test_maintenance_start_and_end_are_queued_once_however_often_the_job_looks(
    store: SqlStore,
) -> None:
    org, channel, _, component = await _org_with_channel(store)
    await store.create_maintenance(
        org.id, "test", "DB upgrade", "Planned.", _window(), (component.id,), T0
    )
    clock = {"now": T0}
    jobs = IncidentJobs(store, clock=lambda: clock["now"])
    for minute in (0, 2, 3, 20, 32, 33, 40):  # overlapping ten-minute lookbacks
        clock["now"] = T0 + timedelta(minutes=minute)
        await jobs.run_once()
    await IncidentJobs(store, clock=lambda: clock["now"]).run_once()  # another process
    rows = await store.outbox_rows(channel.id)
    assert [r["message"]["event"] for r in rows] == ["maintenance.started", "maintenance.ended"]


async def test_a_draft_is_auto_published_after_the_organisations_delay(store: SqlStore) -> None:
    org, _, monitor, _ = await _org_with_channel(store)
    await store.set_auto_publish(org.id, "test", 60, T0)
    incident = await store.open_draft_incident(org.id, monitor.id, "API down", "x", T0)
    assert incident is not None
    assert (await IncidentJobs(store, clock=lambda: T0 + timedelta(seconds=59)).run_once())[0] == 0
    assert (await IncidentJobs(store, clock=lambda: T0 + timedelta(seconds=61)).run_once())[0] == 1
    found = await store.get_incident(org.id, incident)
    assert found is not None and found.published_at is not None


async def test_a_monitor_under_maintenance_raises_no_alert_and_no_draft(store: SqlStore) -> None:
    org, channel, monitor, component = await _org_with_channel(store)
    await store.create_maintenance(org.id, "test", "Upgrade", "", _window(), (component.id,), T0)
    during = T0 + timedelta(minutes=5)
    evaluator = Evaluator(store, MemoryBus(), Broadcaster(), Metrics(), clock=lambda: during)
    failed = CheckResult(new_id(), monitor.id, "local", during, during, None, False)
    changes = await evaluator.process([failed])
    assert [c.to_status.value for c in changes] == ["down"]  # the state is still recorded
    assert await store.outbox_rows(channel.id) == []
    assert await store.list_incidents(org.id) == []


async def test_a_flapping_monitor_alerts_once_not_twenty_times(store: SqlStore) -> None:
    _, channel, monitor, _ = await _org_with_channel(store)
    clock = {"now": T0}
    evaluator = Evaluator(store, MemoryBus(), Broadcaster(), Metrics(), clock=lambda: clock["now"])
    for i in range(20):  # up, down, up, down ... every 10 s: 20 changes in 200 s
        clock["now"] = T0 + timedelta(seconds=10 * i)
        at = clock["now"]
        await evaluator.process(
            [CheckResult(new_id(), monitor.id, "local", at, at, 5.0, i % 2 == 0)]
        )
    events = [r["message"]["event"] for r in await store.outbox_rows(channel.id)]
    assert events.count("monitor.flapping") == 1
    assert events[-1] == "monitor.flapping"  # nothing after it while it keeps flapping
    assert len(events) <= 6


async def test_a_child_down_with_its_parent_is_folded_into_the_parents_outage(
    store: SqlStore,
) -> None:
    org, channel, host, _ = await _org_with_channel(store)
    child = await store.create_monitor(
        org.id,
        MonitorConfig(
            name="web", kind="http", target="http://x/", failure_threshold=1, depends_on=host.id
        ),
    )
    evaluator = Evaluator(store, MemoryBus(), Broadcaster(), Metrics(), clock=lambda: T0)
    batch = [CheckResult(new_id(), m.id, "local", T0, T0, None, False) for m in (host, child)]
    await evaluator.process(batch[:1])  # the host goes down first
    await evaluator.process(batch[1:])  # then its child
    rows = await store.outbox_rows(channel.id)
    assert [r["message"]["monitor_name"] for r in rows] == ["api"]  # one alert, the parent's
    assert [i.monitor_id for i in await store.list_incidents(org.id)] == [host.id]
    # With its parent up, the child's own outage is its own.
    lonely = await store.create_monitor(
        org.id,
        MonitorConfig(
            name="docs", kind="http", target="http://x/", failure_threshold=1, depends_on=child.id
        ),
    )
    child_ok = CheckResult(
        new_id(), child.id, "local", T0 + timedelta(1), T0 + timedelta(1), 5.0, True
    )
    await evaluator.process([child_ok])
    await evaluator.process([CheckResult(new_id(), lonely.id, "local", T0, T0, None, False)])
    names = [r["message"]["monitor_name"] for r in await store.outbox_rows(channel.id)]
    assert names[-1] == "docs"


async def test_a_flapping_monitor_keeps_one_draft_instead_of_one_per_flip(store: SqlStore) -> None:
    org, _, monitor, _ = await _org_with_channel(store)
    clock = {"now": T0}
    evaluator = Evaluator(store, MemoryBus(), Broadcaster(), Metrics(), clock=lambda: clock["now"])
    for i in range(30):
        clock["now"] = at = T0 + timedelta(seconds=10 * i)
        await evaluator.process(
            [CheckResult(new_id(), monitor.id, "local", at, at, 5.0, i % 2 == 0)]
        )
    assert len(await store.list_incidents(org.id)) <= 3


async def test_a_draft_is_rewritten_by_the_configured_model_after_it_opened(
    store: SqlStore,
) -> None:
    seen: list[dict] = []  # type: ignore[type-arg]

    async def chat(request: web.Request) -> web.Response:
        seen.append(await request.json())
        content = json.dumps(
            {
                "title": "API unavailable",
                "body": "Since 12:00 UTC the API has been unavailable. We are looking into it "
                "and will post an update within 30 minutes.",
            }
        )
        return web.json_response({"choices": [{"message": {"content": content}}]})

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    runner = web.AppRunner(app)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    await web.SockSite(runner, sock).start()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    org, _, monitor, _ = await _org_with_channel(store)
    rewriter = Rewriter(url, "local-model", timeout_s=5)
    try:
        async with aiohttp.ClientSession() as session:

            async def rewrite(d: Draft, e: Evidence) -> Rewritten:
                return await rewriter.rewrite(d, e, session)

            evaluator = Evaluator(
                store, MemoryBus(), Broadcaster(), Metrics(), clock=lambda: T0, rewrite=rewrite
            )
            await evaluator.process(
                [CheckResult(new_id(), monitor.id, "local", T0, T0, None, False)]
            )
            await evaluator.wait_rewrites()
    finally:
        await runner.cleanup()
    [incident] = await store.list_incidents(org.id)
    assert seen and seen[0]["model"] == "local-model"
    assert incident.title == "API unavailable"
    assert incident.updates[0]["body"].startswith("Since 12:00 UTC the API")


async def test_a_down_is_announced_once_it_has_lasted_its_confirmation_window(
    store: SqlStore,
) -> None:
    org = await store.create_org("acme", "Acme")
    config = NOTIFIERS["webhook"].validate({"url": "http://127.0.0.1:9/", "secret": new_secret()})
    channel = await store.create_channel(org.id, "webhook", "ops", config, ("secret",))
    monitor = await store.create_monitor(
        org.id,
        MonitorConfig(
            name="api", kind="http", target="http://x/", failure_threshold=1, confirm_s=60
        ),
    )
    clock = {"now": T0}
    evaluator = Evaluator(store, MemoryBus(), Broadcaster(), Metrics(), clock=lambda: clock["now"])
    jobs = IncidentJobs(store, clock=lambda: clock["now"], announce=evaluator.announce)
    await evaluator.process([CheckResult(new_id(), monitor.id, "local", T0, T0, None, False)])
    for seconds in (0, 30, 59):
        clock["now"] = T0 + timedelta(seconds=seconds)
        await jobs.run_once()
    assert await store.outbox_rows(channel.id) == []
    assert await store.list_incidents(org.id) == []
    for seconds in (61, 70, 120):
        clock["now"] = T0 + timedelta(seconds=seconds)
        await jobs.run_once()
    assert [r["message"]["event"] for r in await store.outbox_rows(channel.id)] == ["monitor.down"]
    assert len(await store.list_incidents(org.id)) == 1
