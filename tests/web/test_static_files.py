"""``/static`` files carry a cache lifetime, on a 200 and on a 304 alike, beside the ETag that
revalidates them once it has passed (web/static_files.py)."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette
from starlette.routing import Mount

from statpulse.web.static_files import CACHE_CONTROL, StaticAssets


def _client() -> httpx.AsyncClient:
    static = StaticAssets(packages=[("statpulse", "web/static")])
    app = Starlette(routes=[Mount("/static", static, name="static")])
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_files_have_a_lifetime_and_an_etag() -> None:
    async with _client() as client:
        response = await client.get("/static/status.css")
        assert response.status_code == 200
        assert response.headers["cache-control"] == CACHE_CONTROL
        assert "max-age=3600" in CACHE_CONTROL
        assert response.headers["content-type"].startswith("text/css")
        etag = response.headers["etag"]

        again = await client.get("/static/status.css", headers={"If-None-Match": etag})
        assert again.status_code == 304
        assert again.content == b""
        assert again.headers["cache-control"] == CACHE_CONTROL


async def test_a_missing_file_is_still_a_404() -> None:
    async with _client() as client:
        assert (await client.get("/static/nope.css")).status_code == 404
