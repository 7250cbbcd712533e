"""The embeddable status widget: ``GET /s/{slug}/widget.js``, for other sites.

A customer pastes one tag into their own site::

    <script src="https://status.example.com/s/acme/widget.js" async></script>

and a small badge appears where the tag is (or inside ``data-target="#id"``): the page's name,
the overall description with a coloured dot, the first unresolved incident's title, else up to
two components that are not operational; it links to the status page. The script
(``static/widget.js``, one file for every page, under 4 KB) takes the page's address from its
own ``src`` (or from ``data-page="https://host/s/acme"`` when loaded as ``/static/widget.js``),
reads ``api/v2/summary.json`` from there without cookies (``cors.PUBLIC_CORS`` allows it) and
again every 60 s while the tab is visible. It draws in a Shadow DOM whose ``:host`` resets
inherited styles, with a constructed stylesheet (no inline ``<style>``: a host page's strict CSP
still allows it, though its ``connect-src`` must allow this server), follows the visitor's
``prefers-color-scheme`` and ``prefers-reduced-motion``, and puts every server string in by
``textContent``. The badge is a ``role="status"`` region, so a change is announced once.

The bytes are the same for every page (nothing of the page is written into the script, so
nothing can be injected); the slug must name a page, else a 404 in the API's error shape.
"""

from __future__ import annotations

import hashlib
from functools import cache
from importlib.resources import files

from fastapi import APIRouter, Request, Response

from statpulse.web.deps import ServicesDep
from statpulse.web.errors import not_found
from statpulse.web.public.cors import PUBLIC_CORS
from statpulse.web.public.render_cache import etag_matches

router = APIRouter(tags=["public"], include_in_schema=False)

CACHE_CONTROL = "public, max-age=300, stale-while-revalidate=3600"


@cache
def script() -> tuple[bytes, str]:
    """The widget's bytes and their ETag."""
    body = files("statpulse").joinpath("web/static/widget.js").read_bytes()
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


@router.get("/s/{slug}/widget.js")
async def widget(slug: str, request: Request, svc: ServicesDep) -> Response:
    if await svc.store.get_page(slug) is None:
        raise not_found("status page")
    body, etag = script()
    headers = {
        **PUBLIC_CORS,
        "ETag": etag,
        "Cache-Control": CACHE_CONTROL,
        # Loaded by <script> from other origins, also from pages that isolate themselves (COEP).
        "Cross-Origin-Resource-Policy": "cross-origin",
    }
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="text/javascript; charset=utf-8", headers=headers)
