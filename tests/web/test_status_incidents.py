"""Incidents and maintenances on the public status page ``/s/{slug}`` and an incident's
permalink ``/s/{slug}/incidents/{id}`` (real app, real SQLite store): active incidents with
their timeline, paged history, drafts never public, maintenances in progress and upcoming,
Markdown rendered and sanitised."""

from __future__ import annotations

import itertools
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from html.parser import HTMLParser
from typing import Any

from statpulse.engine.incidents import Impact, IncidentState
from statpulse.engine.maintenance import MaintenanceWindow, WindowKind
from statpulse.model import utcnow
from statpulse.store.sql_incidents import Incident
from statpulse.web.public.data import HISTORY_PAGE
from tests.api import conftest as api
from tests.api.conftest import Env

env = api.env  # the app on a temporary SQLite database (tests/api/conftest.py)

MONITOR = {"name": "API", "kind": "http", "target": "http://127.0.0.1:9/"}


@dataclass
class Page:
    monitor: uuid.UUID
    api: uuid.UUID  # on the page, watched by the monitor
    web: uuid.UUID  # on the page, no monitor
    elsewhere: uuid.UUID  # the organisation's, not on the page


async def _post(env: Env, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await env.client.post(path, json=body, headers=env.write)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def make_page(env: Env) -> Page:
    monitor = await _post(env, "/api/v1/monitors", MONITOR)
    await _post(env, "/api/v1/pages", {"slug": "acme", "title": "Acme"})
    api_c = await _post(
        env,
        "/api/v1/components",
        {"name": "Public API", "monitor_id": monitor["id"], "pages": ["acme"]},
    )
    web = await _post(env, "/api/v1/components", {"name": "Website", "pages": ["acme"]})
    elsewhere = await _post(env, "/api/v1/components", {"name": "Internal"})
    return Page(*(uuid.UUID(x["id"]) for x in (monitor, api_c, web, elsewhere)))


async def incident(
    env: Env,
    title: str,
    components: tuple[uuid.UUID, ...] = (),
    *,
    body: str = "",
    publish: bool = True,
    at: datetime | None = None,
    monitor_id: uuid.UUID | None = None,
) -> Incident:
    return await env.services.store.create_incident(
        env.org.id,
        "test",
        "Ops",
        title=title,
        body=body or f"{title}: investigating",
        at=at or utcnow(),
        impact=Impact.MAJOR,
        components=components,
        monitor_id=monitor_id,
        publish=publish,
    )


async def update(env: Env, i: Incident, status: IncidentState, body: str, at: datetime) -> None:
    found = await env.services.store.add_incident_update(
        env.org.id, i.id, "test", "Ops", status=status, body=body, at=at
    )
    assert found is not None


async def html(env: Env, path: str) -> str:
    response = await env.client.get(path)
    assert response.status_code == 200, response.text
    assert "unsafe-inline" not in response.headers["content-security-policy"]
    return response.text


def section(page: str, heading_id: str) -> str:
    """The HTML of the ``<section>`` labelled by ``heading_id`` ("" when absent)."""
    match = re.search(rf'<section aria-labelledby="{heading_id}">(.*?)</section>', page, re.S)
    return match.group(1) if match else ""


class Tags(HTMLParser):
    """Every start tag of a page with its attributes (values unescaped)."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.feed(page)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    @property
    def levels(self) -> list[int]:
        return [int(tag[1]) for tag, _ in self.tags if re.fullmatch(r"h[1-6]", tag)]


def assert_no_active_content(page: str) -> None:
    """Only our own script; no event handler, style attribute or script link anywhere."""
    tags = Tags(page).tags
    scripts = [attrs for tag, attrs in tags if tag in ("script", "iframe", "object", "embed")]
    assert scripts == [{"src": "/static/live.js", "defer": ""}]
    assert not [t for t, _ in tags if t in ("img", "style")]  # the uptime bars are our own SVG
    for tag, attrs in tags:
        assert not [k for k in attrs if k.startswith("on") or k == "style"], (tag, attrs)
        assert not attrs.get("href", "").strip().lower().startswith("javascript:"), attrs


def assert_headings_in_order(page: str) -> None:
    levels = Tags(page).levels
    assert levels[0] == 1 and levels.count(1) == 1
    assert all(b <= a + 1 for a, b in itertools.pairwise(levels)), levels


async def test_an_active_incident_shows_with_its_timeline_newest_first(env: Env) -> None:
    page = await make_page(env)
    t0 = utcnow() - timedelta(minutes=30)
    outage = await incident(env, "Checkout errors", (page.api,), body="Looking into it", at=t0)
    await update(
        env, outage, IncidentState.IDENTIFIED, "A **bad deploy**", t0 + timedelta(minutes=5)
    )

    body = await html(env, "/s/acme")
    active = section(body, "active-heading")
    assert "Checkout errors" in active and "Major impact" in active and "Public API" in active
    assert f'href="/s/acme/incidents/{outage.id}"' in active
    timeline = re.search(
        r'<ol class="timeline"[^>]*aria-label="Updates on Checkout errors">(.*?)</ol>', active, re.S
    )
    assert timeline is not None
    entries = re.findall(r"<li>(.*?)</li>", timeline.group(1), re.S)
    assert [re.search(r"<strong>(\w+)</strong>", e).group(1) for e in entries] == [  # type: ignore[union-attr]
        "Identified",
        "Investigating",
    ]
    assert "A <strong>bad deploy</strong>" in entries[0] and "Looking into it" in entries[1]
    stamp = (t0 + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert f'<time datetime="{stamp}">' in entries[0] and " UTC</time>" in entries[0]
    assert section(body, "history-heading").count("<li") == 0
    assert_headings_in_order(body)


async def test_resolved_incidents_move_to_the_history_which_is_paged(env: Env) -> None:
    page = await make_page(env)
    start = utcnow() - timedelta(days=30)
    made = []
    for n in range(HISTORY_PAGE + 2):
        at = start + timedelta(days=n)
        i = await incident(env, f"Outage number {n:02d}", monitor_id=page.monitor, at=at)
        await update(env, i, IncidentState.RESOLVED, f"Fixed **{n:02d}**", at + timedelta(hours=1))
        made.append(i)
    ongoing = await incident(env, "Still broken", (page.web,))

    first = await html(env, "/s/acme")
    assert "Still broken" in section(first, "active-heading")
    history = section(first, "history-heading")
    titles = re.findall(r"Outage number (\d\d)", history)
    assert titles == [f"{n:02d}" for n in range(HISTORY_PAGE + 1, 1, -1)]
    assert "Fixed <strong>11</strong>" in history and "Still broken" not in history
    older = re.search(r'href="(/s/acme\?before=[^"#]+)#history-heading" rel="next"', history)
    assert older is not None and older.group(1).endswith(str(made[2].id))
    assert "Latest incidents" not in history

    second = await html(env, older.group(1))
    history = section(second, "history-heading")
    assert re.findall(r"Outage number (\d\d)", history) == ["01", "00"]
    assert "Latest incidents" in history and 'rel="next"' not in history
    assert "Still broken" in section(second, "active-heading")  # current news on every page
    assert str(ongoing.id) in second
    assert_headings_in_order(second)


async def test_a_draft_never_shows_nor_has_a_permalink(env: Env) -> None:
    page = await make_page(env)
    store = env.services.store
    draft = await incident(env, "Secret draft", (page.api,), body="draft body", publish=False)
    engine = await store.open_draft_incident(
        env.org.id, page.monitor, "Engine draft", "engine words", utcnow()
    )
    assert engine is not None
    other = await incident(env, "Internal outage", (page.elsewhere,))
    shown = await incident(env, "Public one", (page.web,))

    body = await html(env, "/s/acme")
    for hidden in ("Secret draft", "draft body", "Engine draft", "engine words", "Internal outage"):
        assert hidden not in body
    for hidden_id in (draft.id, engine, other.id):
        assert str(hidden_id) not in body
        assert (await env.client.get(f"/s/acme/incidents/{hidden_id}")).status_code == 404
        assert (await env.client.get(f"/s/acme?before={hidden_id}")).status_code == 404
    assert "Public one" in body
    assert (await env.client.get(f"/s/acme/incidents/{shown.id}")).status_code == 200

    # A resolved draft stays out of the history too.
    assert await store.resolve_drafts(page.monitor, utcnow(), "recovered") == 1
    assert "Engine draft" not in await html(env, "/s/acme")
    # Published, it shows.
    await store.publish_incident(env.org.id, draft.id, "test", utcnow())
    assert "Secret draft" in section(await html(env, "/s/acme"), "active-heading")


async def test_unknown_or_malformed_ids_are_refused(env: Env) -> None:
    await make_page(env)
    unknown = uuid.uuid4()
    for path in ("/s/acme/incidents/nope", f"/s/acme/incidents/{unknown}",
                 f"/s/nope/incidents/{unknown}", f"/s/acme?before={unknown}"):  # fmt: skip
        assert (await env.client.get(path)).status_code == 404, path
    malformed = await env.client.get("/s/acme?before=yesterday")
    assert malformed.status_code == 422 and malformed.json()["error"]["field"] == "before"


async def test_the_permalink_shows_the_whole_timeline_sanitised(env: Env) -> None:
    page = await make_page(env)
    t0 = utcnow() - timedelta(hours=2)
    attack = "<script>alert(1)</script> [x](javascript:alert(1)) <img src=x onerror=alert(1)>"
    i = await incident(env, "Slow <API>", monitor_id=page.monitor, body=attack, at=t0)
    await update(
        env,
        i,
        IncidentState.MONITORING,
        '<a href="#" style="color:red">x</a>',
        t0 + timedelta(hours=1),
    )
    await update(env, i, IncidentState.RESOLVED, "All **good**", t0 + timedelta(hours=2))

    response = await env.client.get(f"/s/acme/incidents/{i.id}")
    assert response.status_code == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    body = response.text
    assert "<h1>Slow &lt;API&gt;</h1>" in body and '<a href="/s/acme">Acme</a>' in body
    labels = re.findall(r"<li><p><strong>(\w+)</strong>", body)
    assert labels == ["Resolved", "Monitoring", "Investigating"]
    assert "All <strong>good</strong>" in body and "Public API" in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body  # shown as text, harmless
    assert_no_active_content(body)
    assert body.count('<script src="/static/live.js" defer></script>') == 1
    assert len(re.findall(r"<script", body)) == 1
    assert_headings_in_order(body)
    # The page links to it from its history.
    assert f'href="/s/acme/incidents/{i.id}"' in section(
        await html(env, "/s/acme"), "history-heading"
    )


async def test_maintenances_in_progress_and_upcoming_show(env: Env) -> None:
    page = await make_page(env)
    store = env.services.store
    now = utcnow()

    async def create(
        title: str, start: timedelta, end: timedelta, components: tuple[uuid.UUID, ...]
    ) -> None:
        window = MaintenanceWindow(WindowKind.ONE_OFF, start=now + start, end=now + end)
        body = f"{title}: **details** <script>alert(1)</script>"
        await store.create_maintenance(env.org.id, "test", title, body, window, components, now)

    await create("Database upgrade", -timedelta(minutes=5), timedelta(hours=1), (page.api,))
    await create("Network work", timedelta(days=2), timedelta(days=2, hours=1), (page.web,))
    await create("Announcement", timedelta(days=1), timedelta(days=1, hours=1), ())
    await create("Long gone", -timedelta(days=3), -timedelta(days=2), (page.api,))
    await create("Other team", -timedelta(minutes=5), timedelta(hours=1), (page.elsewhere,))

    body = await html(env, "/s/acme")
    shown = section(body, "maintenance-heading")
    titles = re.findall(r'<h3 id="maintenance-[^"]+-title">([^<]+)</h3>', shown)
    assert titles == ["Database upgrade", "Announcement", "Network work"]
    assert "<strong>In progress</strong> until" in shown
    assert shown.count("Scheduled <time") == 2
    end = (now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert f'<time datetime="{end}">' in shown
    assert "<strong>details</strong>" in shown and "&lt;script&gt;" in shown
    assert_no_active_content(body)
    assert "Long gone" not in body and "Other team" not in body
    assert_headings_in_order(body)
