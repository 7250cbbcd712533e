"""``GET/PUT /api/v1/pages/{slug}/appearance`` and what the public page then serves: the page
itself (through the render cache), ``theme.css``, the logo and the favicon."""

from __future__ import annotations

import base64
import struct
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from statpulse.web.public.render_cache import RenderCache
from statpulse.web.public.snapshot import renderer
from tests.api.conftest import Env

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + struct.pack(">II", 200, 50) + b"\x08\x06\0\0\0"
EVIL_SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="90" height="30" onload="alert(1)">'
    b'<script>alert(2)</script><rect width="90" height="30" fill="#123456"/></svg>'
)
CLEAN_SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="90" height="30">'
    b'<rect width="90" height="30" fill="#123456"/></svg>'
)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def branded(**changes: Any) -> dict[str, Any]:
    return {
        "theme": "liquid-glass",
        "colors": {"accent": "#0550ae"},
        "font": "rounded",
        "color_scheme": "auto",
        "custom_css": ".banner { letter-spacing: .01em; }",
        "logo": {"media_type": "image/svg+xml", "data": b64(EVIL_SVG)},
        "favicon": {"media_type": "image/png", "data": b64(PNG)},
        "header_links": [
            {"label": "Docs", "url": "https://docs.example.com/"},
            {"label": "Support", "url": "mailto:help@example.com"},
        ],
        "language": "de",
        **changes,
    }


async def make_page(env: Env, slug: str = "acme") -> None:
    body = {"slug": slug, "title": "Acme Cloud", "description": ""}
    response = await env.client.post("/api/v1/pages", json=body, headers=env.write)
    assert response.status_code == 201, response.text


async def put(env: Env, doc: dict[str, Any], slug: str = "acme") -> httpx.Response:
    return await env.client.put(f"/api/v1/pages/{slug}/appearance", json=doc, headers=env.write)


async def test_a_new_page_has_the_default_appearance(env: Env) -> None:
    await make_page(env)
    response = await env.client.get("/api/v1/pages/acme/appearance", headers=env.read)
    assert response.status_code == 200
    assert response.json() == {
        "theme": "default",
        "colors": {},
        "font": "system",
        "color_scheme": "auto",
        "custom_css": "",
        "logo": None,
        "favicon": None,
        "header_links": [],
        "language": "en",
    }


async def test_put_stores_the_appearance_with_the_svg_sanitised(env: Env) -> None:
    await make_page(env)
    response = await put(env, branded())
    assert response.status_code == 200, response.text
    expected = branded(logo={"media_type": "image/svg+xml", "data": b64(CLEAN_SVG)})
    assert response.json() == expected
    again = await env.client.get("/api/v1/pages/acme/appearance", headers=env.read)
    assert again.json() == expected


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"logo": {"media_type": "image/png", "data": "%%%"}}, "logo.data"),
        ({"logo": {"media_type": "image/png", "data": b64(b"GIF89a....")}}, "logo.data"),
        ({"logo": {"media_type": "image/tiff", "data": b64(PNG)}}, "logo.media_type"),
        (
            {"favicon": {"media_type": "image/svg+xml", "data": b64(b"<!DOCTYPE x><svg/>")}},
            "favicon.data",
        ),
        (
            {
                "header_links": [
                    {"label": "ok", "url": "https://a.example"},
                    {"label": "x", "url": "javascript:alert(1)"},
                ]
            },
            "header_links[1].url",
        ),
        (
            {"header_links": [{"label": "x" * 41, "url": "https://a.example"}]},
            "header_links[0].label",
        ),
        ({"custom_css": "@import url(https://evil.example/x.css);"}, "custom_css"),
        ({"custom_css": "body { background: url(https://tracker.example/p.gif) }"}, "custom_css"),
        ({"custom_css": "</style><script>alert(1)</script>"}, "custom_css"),
        ({"colors": {"accent": "blue"}}, "colors.accent"),
        ({"colors": {"background": "#ffffff", "text": "#eeeeee"}}, "colors.text"),
        ({"theme": "neon"}, "theme"),
        ({"color_scheme": "sepia"}, "color_scheme"),
        ({"language": "xx"}, "language"),
        ({"header_links": [{"label": "x", "url": "https://a.example"}] * 9}, "header_links"),
        ({"unknown": True}, "unknown"),
    ],
)
async def test_a_bad_put_is_a_422_naming_the_field_and_changes_nothing(
    env: Env, change: dict[str, Any], field: str
) -> None:
    await make_page(env)
    assert (await put(env, branded())).status_code == 200
    before = (await env.client.get("/api/v1/pages/acme/appearance", headers=env.read)).json()
    response = await put(env, branded(**change))
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field
    after = (await env.client.get("/api/v1/pages/acme/appearance", headers=env.read)).json()
    assert after == before


async def test_another_organisations_page_is_a_404(env: Env) -> None:
    await make_page(env)
    for response in (
        await env.client.get("/api/v1/pages/acme/appearance", headers=env.other),
        await env.client.put("/api/v1/pages/acme/appearance", json=branded(), headers=env.other),
        await put(env, branded(), slug="nope"),
    ):
        assert response.status_code == 404
    mine = await env.client.get("/api/v1/pages/acme/appearance", headers=env.read)
    assert mine.json()["theme"] == "default"


async def test_a_read_key_cannot_put(env: Env) -> None:
    await make_page(env)
    response = await env.client.put(
        "/api/v1/pages/acme/appearance", json=branded(), headers=env.read
    )
    assert response.status_code == 403


async def test_a_put_is_audited_with_images_summarised(env: Env) -> None:
    await make_page(env)
    await put(env, branded())
    entries = (await env.client.get("/api/v1/audit", headers=env.write)).json()["data"]
    entry = next(e for e in entries if e["action"] == "page.appearance")
    assert entry["target_type"] == "status_page"
    assert entry["before"]["theme"] == "default"
    assert entry["after"]["logo"] == {"media_type": "image/svg+xml", "bytes": len(CLEAN_SVG)}
    assert entry["after"]["header_links"][0]["url"] == "https://docs.example.com/"


async def test_a_put_shows_on_the_next_render_of_a_cached_page(env: Env) -> None:
    await make_page(env)
    assert (await env.client.get("/s/acme")).status_code == 200
    app: FastAPI = env.client._transport.app  # type: ignore[attr-defined]
    cache: RenderCache = app.state.render_cache
    cache.ttl_s = 3600.0  # only an invalidation can make the next render happen
    cache.invalidate()
    first = await env.client.get("/s/acme")
    renders = cache.renders
    assert "/s/acme/logo" not in first.text
    assert (await env.client.get("/s/acme")).text == first.text
    assert cache.renders == renders  # served from the cache
    assert (await put(env, branded())).status_code == 200
    html = (await env.client.get("/s/acme")).text
    assert '<html lang="de" data-theme="liquid-glass" data-scheme="auto">' in html
    assert '<img class="logo" src="/s/acme/logo" alt="Acme Cloud" width="144" height="48">' in html
    assert '<a href="https://docs.example.com/">Docs</a>' in html
    assert '<a href="mailto:help@example.com">Support</a>' in html
    assert '<link rel="stylesheet" href="/s/acme/theme.css">' in html
    assert '<link rel="icon" href="/s/acme/favicon" type="image/png">' in html
    assert cache.renders == renders + 1
    assert (
        "unsafe-inline" not in (await env.client.get("/s/acme")).headers["content-security-policy"]
    )


async def test_theme_css_serves_the_variables_and_custom_css_with_an_etag(env: Env) -> None:
    await make_page(env)
    await put(env, branded())
    response = await env.client.get("/s/acme/theme.css")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/css; charset=utf-8"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "max-age" in response.headers["cache-control"]
    assert "--accent: #0550ae !important;" in response.text
    assert response.text.rstrip().endswith(".banner { letter-spacing: .01em; }")
    etag = response.headers["etag"]
    cached = await env.client.get("/s/acme/theme.css", headers={"If-None-Match": etag})
    assert cached.status_code == 304
    await put(env, branded(custom_css="h1 { font-weight: 800; }"))
    changed = await env.client.get("/s/acme/theme.css", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert "font-weight: 800" in changed.text


async def test_logo_and_favicon_are_served_with_their_type_and_a_locked_down_csp(
    env: Env,
) -> None:
    await make_page(env)
    assert (await env.client.get("/s/acme/logo")).status_code == 404
    assert (await env.client.get("/s/nope/theme.css")).status_code == 404
    await put(env, branded())
    logo = await env.client.get("/s/acme/logo")
    assert logo.status_code == 200
    assert logo.headers["content-type"] == "image/svg+xml"
    assert logo.content == CLEAN_SVG
    assert logo.headers["content-security-policy"] == (
        "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    )
    assert logo.headers["x-content-type-options"] == "nosniff"
    favicon = await env.client.get("/s/acme/favicon")
    assert favicon.headers["content-type"] == "image/png"
    assert favicon.content == PNG
    etag = favicon.headers["etag"]
    assert (
        await env.client.get("/s/acme/favicon", headers={"If-None-Match": etag})
    ).status_code == 304
    await put(env, branded(logo=None))
    assert (await env.client.get("/s/acme/logo")).status_code == 404


async def test_a_static_snapshot_holds_the_theme_logo_and_favicon(env: Env) -> None:
    await make_page(env)
    await put(env, branded())
    app: FastAPI = env.client._transport.app  # type: ignore[attr-defined]
    snapshot = await renderer(app, env.services.store, "https://status.example.com/s")("acme")
    assert snapshot.files["logo.svg"] == CLEAN_SVG
    assert snapshot.files["favicon.png"] == PNG
    assert b".banner { letter-spacing: .01em; }" in snapshot.files["theme.css"]
    index = snapshot.files["index.html"].decode()
    assert 'src="logo.svg"' in index
    assert 'href="theme.css"' in index
    assert 'href="favicon.png"' in index


async def test_an_incident_page_shows_the_logo_links_and_theme(env: Env) -> None:
    await make_page(env)
    component = await env.client.post(
        "/api/v1/components", json={"name": "API", "pages": ["acme"]}, headers=env.write
    )
    incident = await env.client.post(
        "/api/v1/incidents",
        json={
            "title": "Slow API",
            "body": "Looking into it.",
            "components": [component.json()["id"]],
            "publish": True,
        },
        headers=env.write,
    )
    assert incident.status_code == 201, incident.text
    await put(env, branded(theme="high-contrast", color_scheme="dark", language="en"))
    html = (await env.client.get(f"/s/acme/incidents/{incident.json()['id']}")).text
    assert '<html lang="en" data-theme="high-contrast" data-scheme="dark">' in html
    assert '<img class="logo" src="/s/acme/logo"' in html
    assert '<nav class="links" aria-label="Acme Cloud">' in html
    assert '<link rel="stylesheet" href="/s/acme/theme.css">' in html
