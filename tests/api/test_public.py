"""Pages, components, the public status JSON and HTML page, and the operations endpoints."""

from __future__ import annotations

import uuid
from datetime import timedelta

from statpulse.model import CheckResult, new_id, utcnow
from tests.api.conftest import Env

MONITOR = {"name": "API", "kind": "http", "target": "http://127.0.0.1:9/", "interval_s": 60}


async def make_page(env: Env) -> tuple[str, str]:
    monitor = await env.client.post("/api/v1/monitors", json=MONITOR, headers=env.write)
    page = await env.client.post(
        "/api/v1/pages", json={"slug": "acme", "title": "Acme <status>"}, headers=env.write
    )
    assert page.status_code == 201, page.text
    component = await env.client.post(
        "/api/v1/components",
        json={"name": "Public API", "monitor_id": monitor.json()["id"], "pages": ["acme"]},
        headers=env.write,
    )
    assert component.status_code == 201, component.text
    return monitor.json()["id"], component.json()["id"]


async def test_public_status_lists_components_with_name_and_status(env: Env) -> None:
    monitor_id, component_id = await make_page(env)
    now = utcnow()
    await env.services.store.add_results(
        [
            CheckResult(new_id(), uuid.UUID(monitor_id), "local", now, now, 5.0, i % 4 != 0)
            for i in range(8)
        ]
    )
    response = await env.client.get("/api/v1/status/acme")
    assert response.status_code == 200
    doc = response.json()
    assert doc["page"] == {"slug": "acme", "title": "Acme <status>", "description": ""}
    assert doc["components"] == [
        {
            "id": component_id,
            "name": "Public API",
            "description": "",
            "status": "unknown",
            "status_label": "No data",
            "uptime_90d_pct": 75.0,
            "regions": None,
        }
    ]
    assert "stale-if-error" in response.headers["cache-control"]


async def test_public_status_revalidates_with_its_etag(env: Env) -> None:
    await make_page(env)
    first = await env.client.get("/api/v1/status/acme")
    etag = first.headers["etag"]
    again = await env.client.get("/api/v1/status/acme", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.headers["etag"] == etag


async def test_unknown_page_is_404(env: Env) -> None:
    assert (await env.client.get("/api/v1/status/nope")).status_code == 404
    assert (await env.client.get("/s/nope")).status_code == 404


async def test_status_page_html_escapes_and_forbids_inline_script(env: Env) -> None:
    await make_page(env)
    response = await env.client.get("/s/acme")
    assert response.status_code == 200
    html = response.text
    assert "Acme &lt;status&gt;" in html and "<status>" not in html
    assert "Public API" in html and 'data-events="/s/acme/events"' in html
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_status_page_is_served_compressed(env: Env) -> None:
    await make_page(env)
    response = await env.client.get("/s/acme", headers={"Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert int(response.headers["content-length"]) < len(response.content) / 3


async def test_page_and_component_validation(env: Env) -> None:
    await make_page(env)
    dup = await env.client.post(
        "/api/v1/pages", json={"slug": "acme", "title": "again"}, headers=env.write
    )
    assert dup.status_code == 409 and dup.json()["error"]["field"] == "slug"
    bad = await env.client.post(
        "/api/v1/pages", json={"slug": "Bad Slug", "title": "x"}, headers=env.write
    )
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "slug"
    missing = await env.client.post(
        "/api/v1/components",
        json={"name": "x", "monitor_id": str(new_id())},
        headers=env.write,
    )
    assert missing.status_code == 422 and missing.json()["error"]["field"] == "monitor_id"
    other_page = await env.client.post(
        "/api/v1/components", json={"name": "x", "pages": ["acme"]}, headers=env.other
    )
    assert other_page.status_code == 422 and other_page.json()["error"]["field"] == "pages[0]"


async def test_pages_and_components_are_listed_per_tenant(env: Env) -> None:
    await make_page(env)
    pages = (await env.client.get("/api/v1/pages", headers=env.read)).json()
    assert [p["slug"] for p in pages] == ["acme"]
    assert (await env.client.get("/api/v1/pages", headers=env.other)).json() == []
    components = (await env.client.get("/api/v1/components", headers=env.read)).json()
    assert [c["name"] for c in components] == ["Public API"]


async def test_a_pages_components_are_listed_in_display_order_for_its_org_only(env: Env) -> None:
    monitor_id, first = await make_page(env)
    second = await env.client.post(
        "/api/v1/components", json={"name": "Dashboard", "pages": ["acme"]}, headers=env.write
    )
    assert second.status_code == 201, second.text
    await env.client.post(  # on no page: not listed
        "/api/v1/components", json={"name": "Internal", "pages": []}, headers=env.write
    )
    r = await env.client.get("/api/v1/pages/acme/components", headers=env.read)
    assert r.status_code == 200, r.text
    listed = [(c["id"], c["name"], c["monitor_id"]) for c in r.json()]
    assert listed == [(first, "Public API", monitor_id), (second.json()["id"], "Dashboard", None)]
    for headers, slug in ((env.other, "acme"), (env.read, "nope")):
        r = await env.client.get(f"/api/v1/pages/{slug}/components", headers=headers)
        assert r.status_code == 404, r.text
        assert r.json()["error"]["code"] == "not_found"


async def test_uptime_bars_cover_ninety_days(env: Env) -> None:
    monitor_id, _ = await make_page(env)
    old = utcnow() - timedelta(days=30)
    await env.services.store.add_results(
        [CheckResult(new_id(), uuid.UUID(monitor_id), "local", old, old, 5.0, False)]
    )
    html = (await env.client.get("/s/acme")).text
    assert html.count("<rect") >= 90
    assert "0 % uptime" in html or "0.00 %" in html


async def test_health_readiness_metrics_and_openapi(env: Env) -> None:
    assert (await env.client.get("/healthz")).json() == {"status": "ok"}
    assert (await env.client.get("/readyz")).json() == {"status": "ready"}
    metrics = await env.client.get("/metrics")
    assert metrics.status_code == 200 and "statpulse_scheduler_lateness_seconds" in metrics.text
    spec = (await env.client.get("/openapi.json")).json()
    assert (
        "/api/v1/monitors" in spec["paths"]
        and "/api/v1/monitors/{monitor_id}/stats" in spec["paths"]
    )
    assert "x-request-id" in metrics.headers


async def test_unknown_route_gets_the_json_error_shape(env: Env) -> None:
    response = await env.client.get("/api/v1/nothing-here")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
