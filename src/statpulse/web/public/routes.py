"""The public status page: ``/s/{slug}`` (HTML, works without JavaScript; ``?before=ID``
pages its incident history), ``/s/{slug}/incidents/{id}`` (one incident's permalink) and
``/s/{slug}/events`` (Server-Sent Events with the live state).

Drafts are never public: the page never lists one and a draft's permalink or cursor is a 404,
exactly as for an id that does not exist."""

from __future__ import annotations

import asyncio
import json
import math
import uuid
from collections.abc import AsyncIterator
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Receive, Scope, Send

from statpulse.bus.live import MonitorChanged
from statpulse.model import StatusPage, utcnow
from statpulse.web.deps import ServicesDep, services
from statpulse.web.errors import invalid, not_found
from statpulse.web.public.data import (
    history_cursor,
    page_notices,
    page_view,
    public_incident,
    read_frame,
)
from statpulse.web.public.live_fanout import HEARTBEAT_SHARE_S, fanout_for
from statpulse.web.public.render_cache import RenderCache, Rendered, etag_matches
from statpulse.web.public.view import live_payload, template_globals
from statpulse.web.services import Services

router = APIRouter(tags=["public"], include_in_schema=False)

CACHE_CONTROL = "public, max-age=5, stale-while-revalidate=30, stale-if-error=86400"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
HEARTBEAT_S = 15.0

_templates = Environment(
    loader=PackageLoader("statpulse", "web/templates"),
    autoescape=select_autoescape(default=True),
    enable_async=False,
)
_templates.globals.update(template_globals())


async def _page(svc: Services, slug: str) -> StatusPage:
    page = await svc.store.get_page(slug)
    if page is None:
        raise not_found("status page")
    return page


def _html(template: str, **context: object) -> HTMLResponse:
    html = _templates.get_template(template).render(**context)
    return HTMLResponse(
        html, headers={"Content-Security-Policy": CSP, "Cache-Control": CACHE_CONTROL}
    )


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


@router.get("/s/{slug}", response_class=HTMLResponse)
async def status_page(slug: str, request: Request, before: str | None = None) -> Response:
    """The page; ``before`` (an incident id, from the page's "Older incidents" link) shows the
    history after that incident. A malformed ``before`` is a 422, an unknown one a 404.

    Served from the render cache (``render_cache.py``: at most ``DEFAULT_TTL_S`` old, dropped on
    every monitor change and on this process's page writes), pre-compressed when the client
    accepts gzip; 304 when ``If-None-Match`` has the page's ETag. ``CachedPages`` in front of
    the app answers the hits without FastAPI's routing. (``services(request)`` rather than
    ``ServicesDep``: FastAPI runs a sync dependency in a worker thread, a cost on every hit.)"""
    svc = services(request)
    cache = await _render_cache(request, svc)
    entry = await cache.get((slug, before), lambda: _render_status_page(svc, slug, before))
    status, headers, body = _page_response(
        entry, request.headers.get("if-none-match"), request.headers.get("accept-encoding")
    )
    return Response(body, status, headers)


def _page_response(
    entry: Rendered, if_none_match: str | None, accept_encoding: str | None
) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of the cached page for a request with these headers."""
    headers = {
        "ETag": entry.etag,
        "Cache-Control": CACHE_CONTROL,
        "Content-Security-Policy": CSP,
        "Vary": "Accept-Encoding",
    }
    if etag_matches(if_none_match, entry.etag):
        return 304, headers, b""
    headers["Content-Type"] = "text/html; charset=utf-8"
    if _accepts_gzip(accept_encoding):
        headers["Content-Encoding"] = "gzip"  # GZipMiddleware passes it through as it is
        return 200, headers, entry.gzipped
    return 200, headers, entry.body


class CachedPages:
    """Pure ASGI middleware: answers ``GET /s/{slug}`` (no query, or only ``?before=``) from the
    render cache when it holds a fresh entry, before FastAPI's routing (~half of a hit's CPU
    with every API route ahead of this one); anything else, misses included, goes to the app,
    whose route renders and fills the cache. Add it innermost (before ``GZipMiddleware``) so
    custom-domain rewriting and the security headers still apply."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            found = _fresh(scope)
            if found is not None:
                await _send_cached(scope, send, found)
                return
        await self.app(scope, receive, send)


def _fresh(scope: Scope) -> Rendered | None:
    path: str = scope["path"]
    slug = path[3:]
    if not path.startswith("/s/") or not slug or "/" in slug:
        return None
    cache: RenderCache | None = getattr(scope["app"].state, "render_cache", None)
    if cache is None:
        return None
    query: bytes = scope["query_string"]
    before = None
    if query:
        params = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
        if len(params) != 1 or params[0][0] != "before":
            return None
        before = params[0][1]
    return cache.fresh((slug, before))


async def _send_cached(scope: Scope, send: Send, entry: Rendered) -> None:
    if_none_match = accept_encoding = None
    for name, value in scope["headers"]:
        if name == b"if-none-match":
            if_none_match = value.decode("latin-1")
        elif name == b"accept-encoding":
            accept_encoding = value.decode("latin-1")
    status, headers, body = _page_response(entry, if_none_match, accept_encoding)
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    if status != 304:
        raw.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def _render_status_page(svc: Services, slug: str, before: str | None) -> bytes:
    page = await _page(svc, slug)
    now = utcnow()  # the page's "Last updated": the time of this render
    components = await svc.store.page_components(page.id)
    cursor = None
    if before is not None:
        before_id = _uuid(before)
        if before_id is None:
            raise invalid("before", "must be an incident id")
        cursor = await history_cursor(svc.store, page, components, before_id)
        if cursor is None:
            raise not_found("incident")
    appearance = await svc.store.get_page_appearance(page.id)
    view = await page_view(svc.store, page, now, lang=appearance.language)
    notices = await page_notices(svc.store, page, components, now, cursor)
    html = _templates.get_template("status_page.html").render(
        page=view, notices=notices, appearance=appearance, lang=appearance.language
    )
    return html.encode()


async def _render_cache(request: Request, svc: Services) -> RenderCache:
    """The app's cache, made on first use and watching the process's live events."""
    cache: RenderCache | None = getattr(request.app.state, "render_cache", None)
    if cache is None:
        cache = request.app.state.render_cache = RenderCache()
        await cache.watch(svc.live)
        engine = getattr(svc.store, "engine", None)  # SqlStore: its own writes invalidate
        if isinstance(engine, AsyncEngine):
            cache.watch_writes(engine.sync_engine)
    return cache


def _accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether ``Accept-Encoding`` allows gzip (listed, or ``*``, without ``q=0``)."""
    for item in (accept_encoding or "").lower().split(","):
        coding, _, params = item.partition(";")
        if coding.strip() in ("gzip", "*"):
            q = params.replace(" ", "")
            return not (q.startswith("q=0") and q.strip("q=0.") == "")
    return False


@router.get("/s/{slug}/incidents/{incident_id}", response_class=HTMLResponse)
async def incident_page(slug: str, incident_id: str, svc: ServicesDep) -> HTMLResponse:
    """One published incident of the page with its whole timeline; 404 for a draft, another
    page's incident, or an id that is not one."""
    page = await _page(svc, slug)
    found_id = _uuid(incident_id)
    components = await svc.store.page_components(page.id)
    incident = None
    if found_id is not None:
        incident = await public_incident(svc.store, page, components, found_id)
    if incident is None:
        raise not_found("incident")
    appearance = await svc.store.get_page_appearance(page.id)
    return _html(
        "incident.html",
        page=page,
        incident=incident,
        appearance=appearance,
        lang=appearance.language,
    )


@router.get("/s/{slug}/events")
async def status_events(slug: str, svc: ServicesDep) -> StreamingResponse:
    page = await _page(svc, slug)
    return StreamingResponse(
        _stream(svc, page),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _stream(svc: Services, page: StatusPage) -> AsyncIterator[str]:
    """The current state at once, again on every change of a monitor of the page, and at least
    every HEARTBEAT_S seconds; ends when the server stops."""
    # The state is read once per page per change and shared by the page's clients
    # (live_fanout.py); on connecting, a client shares only a read in flight. The key is
    # the page: add to it anything else render() comes to depend on.
    fanout = fanout_for(svc.live)
    engine = getattr(svc.store, "engine", None)  # SqlStore: its appearance writes drop settings
    if isinstance(engine, AsyncEngine):
        fanout.watch_writes(engine.sync_engine)

    async def language() -> bytes:
        return (await svc.store.get_page_appearance(page.id)).language.encode()

    async def render() -> str:
        # Banner and labels; cached apart from the state (live_fanout.py).
        lang = (await fanout.settings.get(("language", page.id), language)).body.decode()
        frame = await fanout.frame(page.id, lambda: read_frame(svc.store, page))
        view = await page_view(
            svc.store, page, utcnow(), with_history=False, lang=lang, frame=frame
        )
        payload = live_payload(view, lang)
        return f"data: {json.dumps(payload, separators=(',', ':'))}\n\n"

    async with svc.live.subscribe() as events:
        yield "retry: 3000\n\n"
        max_age_s = 0.0
        while not svc.stopping.is_set():
            yield await fanout.payload(page.id, render, max_age_s=max_age_s)
            changed = await _next_event(events, svc.stopping)
            max_age_s = math.inf if changed else HEARTBEAT_SHARE_S


async def _next_event(events: asyncio.Queue[MonitorChanged], stopping: asyncio.Event) -> bool:
    """Wait for a state change, the heartbeat or shutdown, whichever comes first; True when
    a state change came."""
    get = asyncio.ensure_future(events.get())
    stop = asyncio.ensure_future(stopping.wait())
    try:
        await asyncio.wait({get, stop}, timeout=HEARTBEAT_S, return_when=asyncio.FIRST_COMPLETED)
    finally:
        changed = get.done() and not get.cancelled()
        get.cancel()
        stop.cancel()
    # Coalesce a burst of changes into one re-read.
    while not events.empty():
        events.get_nowait()
        changed = True
    return changed
