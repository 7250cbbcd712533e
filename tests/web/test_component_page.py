"""A component's page ``/s/{slug}/components/{id}`` through the real app on a real SQLite
database: heatmap, response time charts and their tables from stored results, the incidents
that concerned the component, the 404s (including another page's component), the page's
headers and render cache, the status page's link to it, and the static snapshot."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import httpx
import pytest

from statpulse.engine.incidents import IncidentState
from statpulse.model import CheckResult, Scope, new_id, utcnow
from statpulse.security import apikeys
from statpulse.settings import Settings
from statpulse.web.app import create_app
from statpulse.web.public import component_view
from statpulse.web.public.routes import CACHE_CONTROL, CSP
from statpulse.web.public.svg_charts import long_date, short_date
from tests.web.test_feeds import MONITOR, Env, include
from tests.web.test_snapshot import Site, site, snap  # noqa: F401

TODAY = utcnow().date()


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    """As ``test_feeds.app_env`` (page "acme" with component "API", and component "Billing"
    on no page) but without the embedded runner, so no check result comes but the test's."""
    app = create_app(
        Settings(db=f"sqlite:///{tmp_path / 'c.db'}", data_dir=tmp_path, embedded_runner=False)
    )
    include(app, component_view.router)
    async with app.router.lifespan_context(app):
        services = app.state.services
        org = await services.store.create_org("acme", "Acme")
        key = apikeys.generate()
        await services.store.create_api_key(org.id, "t", Scope.WRITE, key.prefix, key.secret_hash)
        write = {"Authorization": f"Bearer {key.token}"}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:

            async def post(path: str, body: dict[str, object]) -> uuid.UUID:
                response = await client.post(path, json=body, headers=write)
                assert response.status_code == 201, response.text
                return uuid.UUID(response.json()["id"])

            await post("/api/v1/pages", {"slug": "acme", "title": "Acme"})
            monitor = await post("/api/v1/monitors", MONITOR)
            component = await post(
                "/api/v1/components", {"name": "API", "monitor_id": str(monitor), "pages": ["acme"]}
            )
            other_monitor = await post("/api/v1/monitors", {**MONITOR, "name": "Billing"})
            other = await post(
                "/api/v1/components", {"name": "Billing", "monitor_id": str(other_monitor)}
            )
            yield Env(client, services, org, write, monitor, component, other_monitor, other)


def path(env: Env, component: uuid.UUID | str | None = None, slug: str = "acme") -> str:
    return f"/s/{slug}/components/{component or env.component}"


def noon(days_ago: int) -> datetime:
    return datetime.combine(TODAY - timedelta(days=days_ago), time(12), UTC)


async def seed(env: Env) -> datetime:
    """3 days ago: 4 checks, 1 failed (latencies 100, 200, 300); 2 days ago: 2 ok checks
    (50, 150 ms); a minute ago: one ok check of 42 ms. Returns that last time."""
    recent = utcnow() - timedelta(minutes=1)
    rows = [
        (noon(3), True, 100.0),
        (noon(3) + timedelta(minutes=1), True, 200.0),
        (noon(3) + timedelta(minutes=2), True, 300.0),
        (noon(3) + timedelta(minutes=3), False, None),
        (noon(2), True, 50.0),
        (noon(2) + timedelta(minutes=1), True, 150.0),
        (recent, True, 42.0),
    ]
    await env.services.store.add_results(
        [CheckResult(new_id(), env.monitor, "local", at, at, ms, ok) for at, ok, ms in rows]
    )
    return recent


def day(days_ago: int) -> str:
    return long_date(TODAY - timedelta(days=days_ago))


async def test_page_shows_heatmap_charts_and_tables_from_stored_results(env: Env) -> None:
    recent = await seed(env)
    response = await env.client.get(path(env))
    assert response.status_code == 200, response.text
    html = response.text
    assert "<h1>API</h1>" in html and '<a href="/s/acme">Acme</a>' in html
    assert "<strong>85.71 %</strong> uptime over the last 90 days" in html  # 6 of 7 checks
    cells = re.findall(r'<rect x="\d+" y="\d+" width="10" height="10"><title>([^<]*)</title>', html)
    assert len(cells) == 90
    assert f"{day(3)}: 75.00 % uptime, 1 failed check of 4" in cells
    assert cells[-1].startswith(long_date(TODAY))
    assert f'<tr><th scope="row">{day(3)}</th><td>75.00 %</td><td>1</td><td>4</td></tr>' in html
    # Two values: p50 is their midpoint, p95 interpolated between them, exactly.
    assert f'<tr><th scope="row">{day(2)}</th><td>100 ms</td><td>145 ms</td></tr>' in html
    hour = f"{short_date(recent)} {recent:%H}:00"
    assert f'<tr><th scope="row">{hour}</th><td>42 ms</td><td>42 ms</td></tr>' in html
    assert html.count('role="img"') == 3  # heatmap, daily and hourly response time
    assert html.count("<table>") == 3 and html.count('<details class="data">') == 3
    assert "API: response time, daily over the last 90 days" in html
    assert "API: response time, hourly over the last 24 hours" in html


async def test_page_without_results_says_no_data(env: Env) -> None:
    html = (await env.client.get(path(env))).text
    assert "No data over the last 90 days" in html
    assert html.count(">No data</text>") == 2  # both charts
    assert "No checks in the last 90 days." in html
    assert "No incidents reported." in html


async def test_page_lists_the_published_incidents_of_the_component_in_the_window(
    env: Env,
) -> None:
    store, org, now = env.services.store, env.org.id, utcnow()

    async def incident(title: str, ago: timedelta, **kw: object) -> uuid.UUID:
        made = await store.create_incident(
            org,
            "t",
            "Ops",
            title=title,
            body="x",
            at=now - ago,
            **kw,  # type: ignore[arg-type]
        )
        return made.id

    shown = await incident(
        "Errors on API", timedelta(days=2), components=[env.component], publish=True
    )
    await incident(
        "Billing down", timedelta(days=1), components=[env.other_component], publish=True
    )
    await incident("Draft about API", timedelta(days=1), components=[env.component])
    old = await incident("Old one", timedelta(days=100), components=[env.component], publish=True)
    await store.add_incident_update(
        org, old, "t", "Ops", status=IncidentState.RESOLVED, body="ok", at=now - timedelta(days=95)
    )
    # Started long ago but still open: it concerns the window too.
    ongoing = await incident(
        "Slow since spring", timedelta(days=120), monitor_id=env.monitor, publish=True
    )
    everywhere = await incident("Network issue", timedelta(hours=3), publish=True)
    html = (await env.client.get(path(env))).text
    titles = re.findall(r'<a href="/s/acme/incidents/([^"]+)">([^<]+)</a>', html)
    assert titles == [
        (str(everywhere), "Network issue"),
        (str(shown), "Errors on API"),
        (str(ongoing), "Slow since spring"),
    ]
    assert html.count("Affects all components") == 1


async def test_unknown_malformed_and_other_pages_components_are_404(env: Env) -> None:
    response = await env.client.post(
        "/api/v1/pages", json={"slug": "beta", "title": "Beta"}, headers=env.write
    )
    assert response.status_code == 201
    response = await env.client.post(
        "/api/v1/components", json={"name": "Beta thing", "pages": ["beta"]}, headers=env.write
    )
    beta = response.json()["id"]
    assert (await env.client.get(path(env, beta, slug="beta"))).status_code == 200
    for url in (
        path(env, beta),  # another page's component
        path(env, env.other_component),  # a component on no page
        path(env, uuid.uuid4()),
        path(env, "not-a-uuid"),
        path(env, "1" * 40),
        path(env, env.component, slug="beta"),
        path(env, env.component, slug="nope"),
    ):
        assert (await env.client.get(url)).status_code == 404, url


async def test_page_has_the_status_pages_headers_etag_and_no_inline_script_or_style(
    env: Env,
) -> None:
    first = await env.client.get(path(env), headers={"Accept-Encoding": "gzip"})
    assert first.headers["content-security-policy"] == CSP
    assert first.headers["cache-control"] == CACHE_CONTROL
    assert "stale-while-revalidate" in CACHE_CONTROL and "stale-if-error" in CACHE_CONTROL
    assert first.headers["content-encoding"] == "gzip"
    assert first.headers["content-type"] == "text/html; charset=utf-8"
    etag = first.headers["etag"]
    again = await env.client.get(path(env), headers={"If-None-Match": etag})
    assert again.status_code == 304 and not again.content
    # Another spelling of the id is the same page (and the same cache entry).
    upper = await env.client.get(path(env, str(env.component).upper()))
    assert upper.status_code == 200 and upper.headers["etag"] == etag
    html = first.text
    assert "<script" not in html and "style=" not in html and "<style" not in html


async def test_component_and_status_page_cache_entries_do_not_mix(env: Env) -> None:
    component = await env.client.get(path(env))
    page = await env.client.get("/s/acme")
    assert page.headers["etag"] != component.headers["etag"]
    assert "Current status" in page.text and "<h1>API</h1>" not in page.text
    assert f'<a href="/s/acme/components/{env.component}">API</a>' in page.text
    assert (await env.client.get(path(env))).headers["etag"] == component.headers["etag"]


async def test_a_new_result_shows_on_the_next_render(env: Env) -> None:
    before = (await env.client.get(path(env))).headers["etag"]
    await seed(env)
    cache = env.client._transport.app.state.render_cache  # type: ignore[attr-defined]
    cache.invalidate()  # what the monitor-change event or the TTL do in service
    after = await env.client.get(path(env))
    assert after.headers["etag"] != before and "85.71 %" in after.text


async def test_component_name_is_escaped_everywhere(env: Env) -> None:
    name = '<script>alert("x")</script>'
    response = await env.client.post(
        "/api/v1/components", json={"name": name, "pages": ["acme"]}, headers=env.write
    )
    component = response.json()["id"]
    html = (await env.client.get(path(env, component))).text
    assert "<script" not in html
    assert "<h1>&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</h1>" in html


async def test_snapshot_holds_each_components_page_with_relative_links(
    site: Site,  # noqa: F811
) -> None:
    files = (await snap(site)).files
    index = files["index.html"].decode()
    for component in site.components:
        own = f"components/{component}/index.html"
        assert own in files
        assert f'href="{own}"' in index
        html = files[own].decode()
        assert 'href="../../index.html"' in html
        assert 'href="../../static/status.css"' in html
        assert 'href="../../static/component.css"' in html
    assert b".hm-key" in files["static/component.css"]
    api = files[f"components/{site.components[0]}/index.html"].decode()
    assert f'href="../../incidents/{site.published}/index.html"' in api
    assert str(site.draft) not in api
