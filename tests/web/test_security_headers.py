"""The security headers ``RequestContext`` adds to every response (web/middleware.py): present
once each, and a route that sets one itself keeps its own value (never two values, which a
browser may read as an invalid header)."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from statpulse.web.middleware import RequestContext


async def _plain(_request: Request) -> Response:
    return PlainTextResponse("plain")


async def _own(_request: Request) -> Response:
    return PlainTextResponse(
        "own", headers={"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
    )


def _client() -> httpx.AsyncClient:
    app = Starlette(routes=[Route("/plain", _plain), Route("/own", _own)])
    transport = httpx.ASGITransport(app=RequestContext(app))
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def test_every_response_has_the_headers_once() -> None:
    async with _client() as client:
        response = await client.get("/plain")
    assert response.headers.get_list("x-content-type-options") == ["nosniff"]
    assert response.headers.get_list("referrer-policy") == ["strict-origin-when-cross-origin"]
    assert len(response.headers["x-request-id"]) == 16


async def test_a_routes_own_value_is_kept_and_not_repeated() -> None:
    async with _client() as client:
        response = await client.get("/own")
    assert response.headers.get_list("x-content-type-options") == ["nosniff"]
    assert response.headers.get_list("referrer-policy") == ["no-referrer"]
