"""The Statuspage v2-compatible JSON under ``/s/{slug}/api/v2/``: shapes and key names per
endpoint, drafts never public, overrides and maintenances in component statuses, unresolved
vs resolved incidents, the overall indicator, caching (ETag, 304), CORS and the 404 (real app,
real SQLite store); plus the pure mapping's indicator rules."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from statpulse.engine.incidents import Impact, IncidentState, Override
from statpulse.engine.maintenance import MaintenanceWindow, WindowKind
from statpulse.model import Component, Monitor, RegionState, Status, StatusPage, utcnow
from statpulse.store.sql_incidents import Incident
from statpulse.store.sql_maintenance import ComponentOverride
from statpulse.web.public.statuspage_data import PageRows, StatuspageView, iso
from tests.api import conftest as api
from tests.api.conftest import Env

env = api.env  # the app on a temporary SQLite database (tests/api/conftest.py)

BASE = "/s/acme/api/v2"
ENDPOINTS = {
    "summary.json": {"page", "components", "incidents", "scheduled_maintenances", "status"},
    "status.json": {"page", "status"},
    "components.json": {"page", "components"},
    "incidents.json": {"page", "incidents"},
    "incidents/unresolved.json": {"page", "incidents"},
    "scheduled-maintenances.json": {"page", "scheduled_maintenances"},
    "scheduled-maintenances/upcoming.json": {"page", "scheduled_maintenances"},
    "scheduled-maintenances/active.json": {"page", "scheduled_maintenances"},
}
PAGE_KEYS = {"id", "name", "url", "time_zone", "updated_at"}
COMPONENT_KEYS = {"id", "name", "status", "created_at", "updated_at", "position", "description",
                  "showcase", "start_date", "group_id", "page_id", "group",
                  "only_show_if_degraded"}  # fmt: skip
INCIDENT_KEYS = {"id", "name", "status", "created_at", "updated_at", "monitoring_at",
                 "resolved_at", "impact", "shortlink", "started_at", "page_id",
                 "incident_updates", "components"}  # fmt: skip
UPDATE_KEYS = {"id", "status", "body", "incident_id", "created_at", "updated_at", "display_at",
               "affected_components", "deliver_notifications", "custom_tweet",
               "tweet_id"}  # fmt: skip
MAINTENANCE_KEYS = INCIDENT_KEYS | {"scheduled_for", "scheduled_until"}
MONITOR = {"name": "API", "kind": "http", "target": "http://127.0.0.1:9/",
           "regions": ["eu", "us"]}  # fmt: skip


@dataclass
class Page:
    monitor: uuid.UUID
    api: uuid.UUID  # the component watched by the monitor
    web: uuid.UUID  # a component without a monitor
    elsewhere: uuid.UUID  # a component of the organisation, not on the page


async def _post(env: Env, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await env.client.post(path, json=body, headers=env.write)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def make_page(env: Env) -> Page:
    monitor = await _post(env, "/api/v1/monitors", MONITOR)
    await _post(env, "/api/v1/pages", {"slug": "acme", "title": "Acme"})
    api = await _post(
        env,
        "/api/v1/components",
        {"name": "Public API", "monitor_id": monitor["id"], "pages": ["acme"]},
    )
    web = await _post(
        env, "/api/v1/components", {"name": "Website", "description": "www", "pages": ["acme"]}
    )
    elsewhere = await _post(env, "/api/v1/components", {"name": "Internal"})
    return Page(*(uuid.UUID(x["id"]) for x in (monitor, api, web, elsewhere)))


async def get(env: Env, path: str) -> dict[str, Any]:
    response = await env.client.get(f"{BASE}/{path}")
    assert response.status_code == 200, response.text
    doc: dict[str, Any] = response.json()
    return doc


def statuses(doc: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["status"] for c in doc["components"]}


async def incident(
    env: Env,
    title: str,
    components: tuple[uuid.UUID, ...] = (),
    *,
    publish: bool = True,
    impact: Impact = Impact.MINOR,
    monitor_id: uuid.UUID | None = None,
) -> Incident:
    return await env.services.store.create_incident(
        env.org.id,
        "test",
        "Ops",
        title=title,
        body=f"{title}: investigating",
        at=utcnow(),
        impact=impact,
        components=components,
        monitor_id=monitor_id,
        publish=publish,
    )


async def set_regions(env: Env, monitor: uuid.UUID, eu: Status, us: Status) -> None:
    now = utcnow()
    states = [
        RegionState(monitor, "eu", eu, eu, 3, now),
        RegionState(monitor, "us", us, us, 3, now),
    ]
    overall = Status.DOWN if Status.DOWN in (eu, us) else Status.UP
    await env.services.store.save_evaluation(states, {monitor: (overall, now)}, [])


# shapes and headers


async def test_every_endpoint_has_statuspage_shapes_and_headers(env: Env) -> None:
    page = await make_page(env)
    await incident(env, "Slow API", (page.api,))
    now = utcnow()
    await env.services.store.create_maintenance(
        env.org.id,
        "test",
        "DB upgrade",
        "Short downtime",
        MaintenanceWindow(
            WindowKind.ONE_OFF, start=now + timedelta(days=1), end=now + timedelta(days=1, hours=2)
        ),
        (page.web,),
        now,
    )
    for path, keys in ENDPOINTS.items():
        response = await env.client.get(f"{BASE}/{path}")
        assert response.status_code == 200, path
        assert response.headers["content-type"] == "application/json"
        assert response.headers["access-control-allow-origin"] == "*"
        assert response.headers["cache-control"] == (
            "public, max-age=10, stale-while-revalidate=30, stale-if-error=86400"
        )
        assert response.headers["etag"].startswith('"')
        doc = response.json()
        assert set(doc) == keys, path
        assert set(doc["page"]) == PAGE_KEYS
        assert doc["page"]["url"] == "http://testserver/s/acme"
        assert doc["page"]["name"] == "Acme" and doc["page"]["time_zone"] == "Etc/UTC"
        for c in doc.get("components", []):
            assert set(c) == COMPONENT_KEYS
        for i in doc.get("incidents", []):
            assert set(i) == INCIDENT_KEYS
            assert all(set(u) == UPDATE_KEYS for u in i["incident_updates"])
            assert all(set(c) == COMPONENT_KEYS for c in i["components"])
        for m in doc.get("scheduled_maintenances", []):
            assert set(m) == MAINTENANCE_KEYS
            assert all(set(u) == UPDATE_KEYS for u in m["incident_updates"])

    summary = await get(env, "summary.json")
    assert [c["name"] for c in summary["components"]] == ["Public API", "Website"]
    api, web = summary["components"]
    assert (api["position"], web["position"]) == (1, 2)
    assert api["description"] is None and web["description"] == "www"
    assert api["page_id"] == summary["page"]["id"] and api["group"] is False
    assert api["group_id"] is None and api["showcase"] is True
    assert api["only_show_if_degraded"] is False and len(api["start_date"]) == 10
    assert api["created_at"].endswith("Z")
    [open_incident] = summary["incidents"]
    assert open_incident["name"] == "Slow API" and open_incident["impact"] == "minor"
    assert [c["id"] for c in open_incident["components"]] == [str(page.api)]
    [update] = open_incident["incident_updates"]
    assert update["incident_id"] == open_incident["id"] and update["status"] == "investigating"
    assert update["body"] == "Slow API: investigating" and update["display_at"]
    [upcoming] = summary["scheduled_maintenances"]
    assert upcoming["status"] == "scheduled" and upcoming["impact"] == "maintenance"
    assert upcoming["scheduled_for"] == iso(now + timedelta(days=1))
    assert upcoming["scheduled_until"] == iso(now + timedelta(days=1, hours=2))
    assert [c["name"] for c in upcoming["components"]] == ["Website"]
    assert summary["status"] == {"indicator": "minor", "description": "Minor Service Outage"}


async def test_unknown_slug_is_a_json_404_with_cors(env: Env) -> None:
    for path in ENDPOINTS:
        response = await env.client.get(f"/s/nope/api/v2/{path}")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
        assert response.headers["access-control-allow-origin"] == "*"


async def test_an_unchanged_document_revalidates_with_its_etag(env: Env) -> None:
    page = await make_page(env)
    first = await env.client.get(f"{BASE}/summary.json")
    etag = first.headers["etag"]
    again = await env.client.get(f"{BASE}/summary.json", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.headers["etag"] == etag
    assert again.content == b"" and again.headers["access-control-allow-origin"] == "*"
    weak = await env.client.get(f"{BASE}/summary.json", headers={"If-None-Match": f"W/{etag}"})
    assert weak.status_code == 304
    # A change makes a new body, so a new ETag and a full response.
    await env.services.store.set_override(
        env.org.id, page.web, "test", Override.DEGRADED, "slow", utcnow()
    )
    changed = await env.client.get(f"{BASE}/summary.json", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert statuses(changed.json())["Website"] == "degraded_performance"


# incidents


async def test_a_draft_never_appears(env: Env) -> None:
    page = await make_page(env)
    draft = await incident(env, "Draft", (page.api,), publish=False, impact=Impact.CRITICAL)
    engine_draft = await env.services.store.open_draft_incident(
        env.org.id, page.monitor, "API down", "engine draft", utcnow()
    )
    assert engine_draft is not None
    published = await incident(env, "Published", (page.api,))
    for path in ("summary.json", "incidents.json", "incidents/unresolved.json"):
        doc = await get(env, path)
        assert [i["name"] for i in doc["incidents"]] == ["Published"], path
        body = str(doc)
        assert str(draft.id) not in body and str(engine_draft) not in body
        assert "Draft" not in body and "engine draft" not in body
    assert (await get(env, "status.json"))["status"]["indicator"] == "minor"
    # Once published, it shows.
    await env.services.store.publish_incident(env.org.id, draft.id, "test", utcnow())
    names = {i["name"] for i in (await get(env, "incidents.json"))["incidents"]}
    assert names == {"Draft", "Published"}
    assert str(published.id) in str(await get(env, "incidents/unresolved.json"))
    assert (await get(env, "status.json"))["status"] == {
        "indicator": "critical",
        "description": "Major System Outage",
    }


async def test_unresolved_and_resolved_incidents(env: Env) -> None:
    page = await make_page(env)
    store = env.services.store
    fixed = await incident(env, "Fixed", (page.web,), impact=Impact.MAJOR)
    t1 = utcnow()
    await store.add_incident_update(
        env.org.id, fixed.id, "test", "Ops", status=IncidentState.MONITORING, body="fix out", at=t1
    )
    t2 = utcnow()
    await store.add_incident_update(
        env.org.id, fixed.id, "test", "Ops", status=IncidentState.RESOLVED, body="done", at=t2
    )
    ongoing = await incident(env, "Ongoing", monitor_id=page.monitor)

    listed = (await get(env, "incidents.json"))["incidents"]
    assert [i["name"] for i in listed] == ["Ongoing", "Fixed"]
    resolved = listed[1]
    assert resolved["status"] == "resolved" and resolved["resolved_at"] == iso(t2)
    assert resolved["monitoring_at"] == iso(t1) and resolved["updated_at"] == iso(t2)
    assert [u["status"] for u in resolved["incident_updates"]] == [
        "resolved",
        "monitoring",
        "investigating",
    ]
    assert [u["body"] for u in resolved["incident_updates"]][:2] == ["done", "fix out"]
    # An incident of the monitor lists the monitor's component.
    assert [c["name"] for c in listed[0]["components"]] == ["Public API"]
    assert listed[0]["resolved_at"] is None and listed[0]["monitoring_at"] is None

    unresolved = (await get(env, "incidents/unresolved.json"))["incidents"]
    assert [i["id"] for i in unresolved] == [str(ongoing.id)]
    assert [i["name"] for i in (await get(env, "summary.json"))["incidents"]] == ["Ongoing"]
    # The resolved major incident no longer counts; the open minor one does.
    assert (await get(env, "status.json"))["status"]["indicator"] == "minor"


async def test_only_incidents_affecting_the_page_are_listed(env: Env) -> None:
    page = await make_page(env)
    await incident(env, "Internal only", (page.elsewhere,), impact=Impact.CRITICAL)
    await incident(env, "Everywhere")  # no components, no monitor: organisation-wide
    names = [i["name"] for i in (await get(env, "incidents.json"))["incidents"]]
    assert names == ["Everywhere"]
    assert (await get(env, "status.json"))["status"]["indicator"] == "minor"


# component statuses


async def test_override_beats_maintenance_beats_monitor(env: Env) -> None:
    page = await make_page(env)
    store = env.services.store
    await set_regions(env, page.monitor, Status.DOWN, Status.DOWN)
    assert statuses(await get(env, "components.json")) == {
        "Public API": "major_outage",
        "Website": "operational",
    }
    now = utcnow()
    window = MaintenanceWindow(
        WindowKind.ONE_OFF, start=now - timedelta(hours=1), end=now + timedelta(hours=1)
    )
    m = await store.create_maintenance(
        env.org.id, "test", "Upgrade", "Upgrading", window, (page.api, page.web), now
    )
    assert statuses(await get(env, "components.json")) == {
        "Public API": "under_maintenance",
        "Website": "under_maintenance",
    }
    status = await get(env, "status.json")
    assert status["status"] == {"indicator": "none", "description": "Service Under Maintenance"}
    active = (await get(env, "scheduled-maintenances/active.json"))["scheduled_maintenances"]
    assert [x["id"] for x in active] == [str(m.id)]
    assert active[0]["status"] == "in_progress"
    assert active[0]["scheduled_for"] == iso(now - timedelta(hours=1))
    assert active[0]["started_at"] == iso(now - timedelta(hours=1))
    assert [u["status"] for u in active[0]["incident_updates"]] == ["in_progress", "scheduled"]
    assert (await get(env, "scheduled-maintenances/upcoming.json"))["scheduled_maintenances"] == []
    summary = await get(env, "summary.json")
    assert [x["id"] for x in summary["scheduled_maintenances"]] == [str(m.id)]

    await store.set_override(env.org.id, page.web, "test", Override.PARTIAL_OUTAGE, "", now)
    assert statuses(await get(env, "components.json")) == {
        "Public API": "under_maintenance",
        "Website": "partial_outage",
    }
    await store.clear_override(env.org.id, page.web, "test", utcnow())
    await store.delete_maintenance(env.org.id, m.id, "test", utcnow())
    assert statuses(await get(env, "components.json"))["Public API"] == "major_outage"


async def test_maintenance_lists_by_state(env: Env) -> None:
    page = await make_page(env)
    store = env.services.store
    now = utcnow()

    async def create(title: str, start: timedelta, end: timedelta) -> str:
        window = MaintenanceWindow(WindowKind.ONE_OFF, start=now + start, end=now + end)
        m = await store.create_maintenance(
            env.org.id, "test", title, title, window, (page.web,), now
        )
        return m.title

    await create("past", -timedelta(days=2), -timedelta(days=1))
    await create("soon", timedelta(hours=1), timedelta(hours=2))
    await create("later", timedelta(days=3), timedelta(days=4))
    await create("now", -timedelta(minutes=5), timedelta(minutes=5))
    daily_at = (now + timedelta(hours=6)).time().replace(microsecond=0)  # UTC wall clock
    weekly = MaintenanceWindow(
        WindowKind.WEEKLY, weekdays=tuple(range(7)), start_time=daily_at, duration_s=600
    )
    await store.create_maintenance(env.org.id, "test", "nightly", "", weekly, (page.web,), now)
    await store.create_maintenance(env.org.id, "test", "other", "", weekly, (page.elsewhere,), now)

    def names(doc: dict[str, Any]) -> list[str]:
        return [m["name"] for m in doc["scheduled_maintenances"]]

    every = await get(env, "scheduled-maintenances.json")
    assert names(every) == ["later", "nightly", "soon", "now", "past"]
    by_name = {m["name"]: m for m in every["scheduled_maintenances"]}
    assert by_name["past"]["status"] == "completed"
    assert by_name["past"]["resolved_at"] == iso(now - timedelta(days=1))
    assert by_name["nightly"]["status"] == "scheduled"
    assert by_name["nightly"]["scheduled_for"][11:19] == daily_at.isoformat()
    upcoming = await get(env, "scheduled-maintenances/upcoming.json")
    assert names(upcoming) == ["soon", "nightly", "later"]
    assert names(await get(env, "scheduled-maintenances/active.json")) == ["now"]
    assert names(await get(env, "summary.json")) == ["now", "soon", "nightly", "later"]
    assert statuses(await get(env, "components.json"))["Website"] == "under_maintenance"


# the overall indicator


async def test_region_counts_decide_partial_or_major_outage(env: Env) -> None:
    page = await make_page(env)
    await set_regions(env, page.monitor, Status.DOWN, Status.UP)
    summary = await get(env, "summary.json")
    assert statuses(summary)["Public API"] == "partial_outage"
    assert summary["status"] == {"indicator": "minor", "description": "Minor Service Outage"}
    await set_regions(env, page.monitor, Status.DOWN, Status.DOWN)
    summary = await get(env, "summary.json")
    assert statuses(summary)["Public API"] == "major_outage"
    assert summary["status"] == {"indicator": "major", "description": "Partial System Outage"}
    await env.services.store.set_override(
        env.org.id, page.web, "test", Override.MAJOR_OUTAGE, "", utcnow()
    )
    summary = await get(env, "summary.json")
    assert summary["status"] == {"indicator": "critical", "description": "Major System Outage"}


T0 = datetime(2030, 1, 1, tzinfo=UTC)


def _rows(states: list[Status | Override], incidents: Sequence[Incident] = ()) -> PageRows:
    page = StatusPage(uuid.uuid4(), uuid.uuid4(), "p", "P", "", T0)
    components: list[tuple[Component, Monitor | None]] = []
    overrides = []
    for n, state in enumerate(states):
        c = Component(uuid.uuid4(), page.org_id, f"c{n}", "", None, T0)
        components.append((c, None))
        if isinstance(state, Override):
            overrides.append(ComponentOverride(c.id, page.org_id, state, "", "x", T0))
    return PageRows(page, "http://x/s/p", components, overrides=overrides, incidents=incidents)


@pytest.mark.parametrize(
    ("states", "impacts", "expected"),
    [
        ([], [], ("none", "All Systems Operational")),
        ([Status.UP], [], ("none", "All Systems Operational")),
        ([Override.DEGRADED, Status.UP], [], ("minor", "Minor Service Outage")),
        ([Override.PARTIAL_OUTAGE, Status.UP], [], ("minor", "Minor Service Outage")),
        ([Override.MAJOR_OUTAGE, Status.UP], [], ("major", "Partial System Outage")),
        ([Override.MAJOR_OUTAGE] * 2, [], ("critical", "Major System Outage")),
        ([Override.MAINTENANCE, Status.UP], [], ("none", "Service Under Maintenance")),
        ([Override.MAINTENANCE], [Impact.MAJOR], ("major", "Partial System Outage")),
        ([Status.UP], [Impact.NONE], ("none", "All Systems Operational")),
        ([Override.DEGRADED], [Impact.CRITICAL], ("critical", "Major System Outage")),
    ],
)
def test_indicator_is_the_worst_of_incidents_and_components(
    states: list[Status | Override], impacts: list[Impact], expected: tuple[str, str]
) -> None:
    org = uuid.uuid4()
    incidents = [
        Incident(uuid.uuid4(), org, None, "i", "investigating", i.value, T0, T0, None)
        for i in impacts
    ]
    # A resolved incident and a draft never count.
    incidents.append(Incident(uuid.uuid4(), org, None, "r", "resolved", "critical", T0, T0, T0))
    incidents.append(
        Incident(uuid.uuid4(), org, None, "d", "investigating", "critical", None, T0, None)
    )
    status = StatuspageView(_rows(states, incidents), T0).status()["status"]
    assert (status["indicator"], status["description"]) == expected
