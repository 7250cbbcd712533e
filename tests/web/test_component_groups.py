"""Component groups and the components' current state on the HTML status page, its live
payload and the Statuspage JSON: groups with their worst member's status, and the same
precedence (override, maintenance, monitor with regions) in all of them (real app, real SQLite
store)."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

from fastapi import FastAPI

from statpulse.engine.incidents import Override
from statpulse.engine.maintenance import MaintenanceWindow, WindowKind
from statpulse.model import Status, utcnow
from statpulse.web.public.data import page_view, read_frame
from statpulse.web.public.view import live_payload
from tests.api import conftest as api
from tests.api.conftest import Env
from tests.web.test_statuspage_api import Page, get, make_page, set_regions, statuses

env = api.env


async def _group(env: Env, name: str, *members: uuid.UUID) -> str:
    body = {"name": name, "components": [str(m) for m in members]}
    response = await env.client.post("/api/v1/pages/acme/groups", json=body, headers=env.write)
    assert response.status_code == 201, response.text
    group_id: str = response.json()["id"]
    return group_id


async def _html(env: Env) -> str:
    response = await env.client.get("/s/acme")
    assert response.status_code == 200
    return response.text


def _label(html: str, component: uuid.UUID) -> str:
    found = re.search(
        rf'data-component-id="{component}" data-status="[a-z]+">\n<div class="head">'
        r'<h3><a [^>]*>[^<]*</a></h3><span class="status">([^<]*)</span>',
        html,
    )
    assert found is not None, html
    return found.group(1)


def _group_html(html: str, group_id: str) -> str:
    start = html.index(f'data-group-id="{group_id}"')
    return html[start : html.index("</details>", start)]


def _banner(html: str) -> str:
    found = re.search(r'<p id="overall"[^>]*>([^<]*)</p>', html)
    assert found is not None
    return found.group(1)


async def _live(env: Env) -> dict[str, Any]:
    """The live payload as the stream builds it (from a frame read with the groups)."""
    page = await env.services.store.get_page("acme")
    assert page is not None
    frame = await read_frame(env.services.store, page)
    view = await page_view(env.services.store, page, utcnow(), with_history=False, frame=frame)
    return live_payload(view)


def _live_labels(payload: dict[str, Any]) -> dict[str, str]:
    return {c["id"]: c["label"] for c in payload["components"]}  # type: ignore[index]


async def _maintenance_on(env: Env, page: Page) -> None:
    now = utcnow()
    window = MaintenanceWindow(
        WindowKind.ONE_OFF, start=now - timedelta(hours=1), end=now + timedelta(hours=1)
    )
    await env.services.store.create_maintenance(
        env.org.id, "test", "DB upgrade", "", window, (page.api,), now
    )


async def test_a_group_shows_its_members_under_its_worst_status(env: Env) -> None:
    page = await make_page(env)
    core = await _group(env, "Core", page.web, page.api)
    await set_regions(env, page.monitor, Status.DOWN, Status.DOWN)
    html = await _html(env)
    group = _group_html(html, core)
    assert group.startswith(f'data-group-id="{core}" data-status="down">\n<details open>')
    assert '<summary class="head"><h3>Core</h3><span class="status">Major outage</span>' in group
    assert f'data-component-id="{page.api}"' in group
    assert f'data-component-id="{page.web}"' in group
    assert _label(html, page.api) == "Major outage"
    live = await _live(env)  # the summary line updates live too
    assert live["groups"] == [{"id": core, "status": "down", "label": "Major outage"}]

    doc = await get(env, "components.json")
    [group_doc, api_doc, web_doc] = doc["components"]
    assert group_doc["id"] == core and group_doc["name"] == "Core"
    assert group_doc["group"] is True and group_doc["group_id"] is None
    assert group_doc["components"] == [str(page.api), str(page.web)]
    assert group_doc["status"] == "major_outage"  # the worst member's
    assert api_doc["group_id"] == core and web_doc["group_id"] == core
    assert api_doc["group"] is False and "components" not in api_doc
    assert [c["position"] for c in doc["components"]] == [1, 2, 3]


async def test_a_group_of_operational_members_is_closed(env: Env) -> None:
    page = await make_page(env)
    core = await _group(env, "Core", page.api)
    await set_regions(env, page.monitor, Status.UP, Status.UP)
    html = await _html(env)
    group = _group_html(html, core)
    assert "<details>" in group and "<details open>" not in group
    assert '<span class="status">Operational</span></summary>' in group
    # the ungrouped component is listed after the group, as before
    assert html.index(f'data-component-id="{page.web}"') > html.index(f'data-group-id="{core}"')
    assert f'data-component-id="{page.web}"' not in group
    summary = await get(env, "summary.json")
    assert statuses(summary) == {"Core": "operational", "Public API": "operational",
                                 "Website": "operational"}  # fmt: skip


async def test_an_override_shows_the_same_status_on_the_page_and_in_the_json(env: Env) -> None:
    page = await make_page(env)
    await set_regions(env, page.monitor, Status.UP, Status.UP)
    store = env.services.store
    await store.set_override(env.org.id, page.web, "test", Override.PARTIAL_OUTAGE, "", utcnow())
    await store.set_override(env.org.id, page.api, "test", Override.DEGRADED, "", utcnow())
    html = await _html(env)
    assert _label(html, page.web) == "Partial outage"
    assert _label(html, page.api) == "Degraded performance"
    assert _banner(html) == "Partial outage"
    assert statuses(await get(env, "components.json")) == {
        "Public API": "degraded_performance",
        "Website": "partial_outage",
    }
    live = _live_labels(await _live(env))
    assert live == {str(page.api): "Degraded performance", str(page.web): "Partial outage"}


async def test_an_override_beats_a_maintenance_which_beats_the_monitor(env: Env) -> None:
    page = await make_page(env)
    await set_regions(env, page.monitor, Status.DOWN, Status.DOWN)
    await _maintenance_on(env, page)
    html = await _html(env)
    assert _label(html, page.api) == "Under maintenance"
    assert _banner(html) == "Maintenance in progress"
    assert statuses(await get(env, "components.json"))["Public API"] == "under_maintenance"
    payload = await _live(env)
    assert _live_labels(payload)[str(page.api)] == "Under maintenance"
    assert payload["overall"] == "maintenance"

    await env.services.store.set_override(
        env.org.id, page.api, "test", Override.MAJOR_OUTAGE, "", utcnow()
    )
    html = await _html(env)
    assert _label(html, page.api) == "Major outage"
    assert statuses(await get(env, "components.json"))["Public API"] == "major_outage"


async def test_some_regions_down_is_a_partial_outage_all_of_them_a_major_one(env: Env) -> None:
    page = await make_page(env)
    core = await _group(env, "Core", page.api)
    await set_regions(env, page.monitor, Status.DOWN, Status.UP)
    html = await _html(env)
    assert _label(html, page.api) == "Partial outage"
    assert '<span class="status">Partial outage</span></summary>' in _group_html(html, core)
    assert _banner(html) == "Partial outage"
    summary = await get(env, "summary.json")
    assert statuses(summary)["Public API"] == "partial_outage"
    assert statuses(summary)["Core"] == "partial_outage"

    await set_regions(env, page.monitor, Status.DOWN, Status.DOWN)
    # The monitor stays down (no MonitorChanged event): the cached page would show the
    # regions change within the render cache's TTL; drop it so the next request renders.
    app: FastAPI = env.client._transport.app  # type: ignore[attr-defined]
    app.state.render_cache.invalidate()
    html = await _html(env)
    assert _label(html, page.api) == "Major outage"
    assert '<span class="status">Major outage</span></summary>' in _group_html(html, core)
    assert statuses(await get(env, "components.json"))["Public API"] == "major_outage"


async def test_a_new_group_shows_on_the_next_render_of_a_cached_page(env: Env) -> None:
    page = await make_page(env)
    assert 'class="group"' not in await _html(env)
    core = await _group(env, "Core", page.api)
    assert f'data-group-id="{core}"' in await _html(env)
    response = await env.client.delete(f"/api/v1/pages/acme/groups/{core}", headers=env.write)
    assert response.status_code == 204
    html = await _html(env)
    assert 'class="group"' not in html and _label(html, page.api) == "No data"


async def test_group_status_and_labels_are_translated(env: Env) -> None:
    page = await make_page(env)
    core = await _group(env, "Kern", page.api)
    await set_regions(env, page.monitor, Status.DOWN, Status.UP)
    response = await env.client.put(
        "/api/v1/pages/acme/appearance", json={"language": "de"}, headers=env.write
    )
    assert response.status_code == 200, response.text
    html = await _html(env)
    group = _group_html(html, core)
    assert '<span class="status">Teilweiser Ausfall</span></summary>' in group
    assert 'aria-label="Komponenten von Kern"' in group
