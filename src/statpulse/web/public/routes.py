"""The public status page: ``/s/{slug}`` (HTML, works without JavaScript; ``?before=ID``
pages its incident history), ``/s/{slug}/incidents/{id}`` (one incident's permalink) and
``/s/{slug}/events`` (Server-Sent Events with the live state).

Drafts are never public: the page never lists one and a draft's permalink or cursor is a 404,
exactly as for an id that does not exist."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, StreamingResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from statpulse.bus.live import MonitorChanged
from statpulse.model import StatusPage, utcnow
from statpulse.web.deps import ServicesDep
from statpulse.web.errors import invalid, not_found
from statpulse.web.public.data import history_cursor, page_notices, page_view, public_incident
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
async def status_page(slug: str, svc: ServicesDep, before: str | None = None) -> HTMLResponse:
    """The page; ``before`` (an incident id, from the page's "Older incidents" link) shows the
    history after that incident. A malformed ``before`` is a 422, an unknown one a 404."""
    page = await _page(svc, slug)
    now = utcnow()
    components = await svc.store.page_components(page.id)
    cursor = None
    if before is not None:
        before_id = _uuid(before)
        if before_id is None:
            raise invalid("before", "must be an incident id")
        cursor = await history_cursor(svc.store, page, components, before_id)
        if cursor is None:
            raise not_found("incident")
    view = await page_view(svc.store, page, now)
    notices = await page_notices(svc.store, page, components, now, cursor)
    return _html("status_page.html", page=view, notices=notices)


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
    return _html("incident.html", page=page, incident=incident)


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
