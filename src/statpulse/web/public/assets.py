"""A page's appearance files: ``/s/{slug}/theme.css``, ``/s/{slug}/logo``, ``/s/{slug}/favicon``.

Each comes from the render cache (``render_cache.py``) under its own key, so a burst of
visitors costs one appearance read per ``DEFAULT_TTL_S``, and a PUT of the appearance (a write
to ``page_appearance``) drops it at once; served with a weak ETag (304 on a match) and the
page's ``Cache-Control``. Text (CSS, SVG) is served gzipped when the client accepts it.

Images are served with their media type (sniffed from the validated bytes), ``nosniff`` and
``Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; sandbox``: an SVG
opened on its own runs no script and loads nothing even if the sanitiser missed something.
No logo or favicon set (or no such page) is a 404.
"""

from __future__ import annotations

from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import Response

from statpulse.web.deps import services
from statpulse.web.errors import not_found
from statpulse.web.public.appearance import SVG, PageAppearance, sniff
from statpulse.web.public.render_cache import Render, Rendered, etag_matches
from statpulse.web.public.routes import CACHE_CONTROL, _accepts_gzip, _render_cache
from statpulse.web.public.theme_css import theme_css
from statpulse.web.services import Services

router = APIRouter(tags=["public"], include_in_schema=False)

IMAGE_CSP: Final = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
CSS_TYPE: Final = "text/css; charset=utf-8"


async def _appearance(svc: Services, slug: str) -> PageAppearance:
    page = await svc.store.get_page(slug)
    if page is None:
        raise not_found("status page")
    return await svc.store.get_page_appearance(page.id)


@router.get("/s/{slug}/theme.css")
async def theme(slug: str, request: Request) -> Response:
    async def render() -> bytes:
        return theme_css(await _appearance(services(request), slug)).encode()

    entry = await _cached(request, (slug, "theme.css"), render)
    return _respond(request, entry, CSS_TYPE, compressible=True)


@router.get("/s/{slug}/logo")
async def logo(slug: str, request: Request) -> Response:
    return await _image(request, slug, "logo")


@router.get("/s/{slug}/favicon")
async def favicon(slug: str, request: Request) -> Response:
    return await _image(request, slug, "favicon")


async def _image(request: Request, slug: str, name: str) -> Response:
    async def render() -> bytes:
        image = getattr(await _appearance(services(request), slug), name)
        if image is None:
            raise not_found(name)
        data: bytes = image.data
        return data

    entry = await _cached(request, (slug, name), render)
    media_type = sniff(entry.body)  # the bytes were validated against their media type
    response = _respond(request, entry, media_type, compressible=media_type == SVG)
    response.headers["Content-Security-Policy"] = IMAGE_CSP
    return response


async def _cached(request: Request, key: tuple[str, str], render: Render) -> Rendered:
    """The cache entry of asset ``key``; keyed ``("asset", slug, name)``, a 3-tuple, so it
    never meets the pages' ``(slug, before)`` keys."""
    cache = await _render_cache(request, services(request))
    return await cache.get(("asset", *key), render)


def _respond(request: Request, entry: Rendered, media_type: str, *, compressible: bool) -> Response:
    headers = {
        "ETag": entry.etag,
        "Cache-Control": CACHE_CONTROL,
        "X-Content-Type-Options": "nosniff",
        "Vary": "Accept-Encoding",
    }
    if etag_matches(request.headers.get("if-none-match"), entry.etag):
        return Response(status_code=304, headers=headers)
    body = entry.body
    if compressible and _accepts_gzip(request.headers.get("accept-encoding")):
        headers["Content-Encoding"] = "gzip"
        body = entry.gzipped
    return Response(body, media_type=media_type, headers=headers)
