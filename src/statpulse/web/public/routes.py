"""The public status page: ``/s/{slug}`` (HTML, works without JavaScript) and
``/s/{slug}/events`` (Server-Sent Events with the live state)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, StreamingResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from statpulse.bus.live import MonitorChanged
from statpulse.model import StatusPage, utcnow
from statpulse.web.deps import ServicesDep
from statpulse.web.errors import not_found
from statpulse.web.public.data import page_view
from statpulse.web.public.view import live_payload, template_globals
from statpulse.web.services import Services

router = APIRouter(tags=["public"], include_in_schema=False)

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


@router.get("/s/{slug}", response_class=HTMLResponse)
async def status_page(slug: str, svc: ServicesDep) -> HTMLResponse:
    page = await _page(svc, slug)
    view = await page_view(svc.store, page, utcnow())
    html = _templates.get_template("status_page.html").render(page=view)
    return HTMLResponse(
        html,
        headers={
            "Content-Security-Policy": CSP,
            "Cache-Control": "public, max-age=5, stale-while-revalidate=30, stale-if-error=86400",
        },
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
    async with svc.live.subscribe() as events:
        yield "retry: 3000\n\n"
        while not svc.stopping.is_set():
            view = await page_view(svc.store, page, utcnow(), with_history=False)
            yield f"data: {json.dumps(live_payload(view), separators=(',', ':'))}\n\n"
            await _next_event(events, svc.stopping)


async def _next_event(events: asyncio.Queue[MonitorChanged], stopping: asyncio.Event) -> None:
    """Wait for a state change, the heartbeat or shutdown, whichever comes first."""
    get = asyncio.ensure_future(events.get())
    stop = asyncio.ensure_future(stopping.wait())
    try:
        await asyncio.wait({get, stop}, timeout=HEARTBEAT_S, return_when=asyncio.FIRST_COMPLETED)
    finally:
        get.cancel()
        stop.cancel()
    # Coalesce a burst of changes into one re-read.
    while not events.empty():
        events.get_nowait()
