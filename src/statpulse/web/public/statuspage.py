"""Atlassian Statuspage v2-compatible public JSON under ``/s/{slug}/api/v2/`` (no auth).

The documents are built by ``statuspage_data`` (pure); this router reads the rows and serves
the body with cache headers, an ETag over the body (``If-None-Match`` revalidates to 304) and
``Access-Control-Allow-Origin: *`` (Statuspage widgets fetch cross-origin). An unknown slug is
a JSON 404 in the API's error shape.

Incidents are read newest first, published only, in batches of ``BATCH`` until ``LIMIT`` of them
affect the page or ``MAX_SCAN`` were read: an unresolved incident older than the page's 50 most
recent ones is therefore not listed (a store query for open incidents would lift this).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from datetime import datetime

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from statpulse.model import Component, Monitor, StatusPage, utcnow
from statpulse.store.contract import Store
from statpulse.store.sql_incidents import Incident
from statpulse.web.deps import ServicesDep
from statpulse.web.errors import error_body
from statpulse.web.public.cors import PUBLIC_CORS
from statpulse.web.public.statuspage_data import (
    LIMIT,
    Doc,
    PageRows,
    StatuspageView,
    affects_page,
)

router = APIRouter(prefix="/s/{slug}/api/v2", tags=["statuspage"])

CACHE_CONTROL = "public, max-age=10, stale-while-revalidate=30, stale-if-error=86400"
CORS = PUBLIC_CORS  # web/public/cors.py: the one rule of the public documents
BATCH = 100
MAX_SCAN = 1000

Document = Callable[[StatuspageView], Doc]


async def _incidents(
    store: Store, page: StatusPage, components: list[tuple[Component, Monitor | None]]
) -> list[Incident]:
    """The organisation's published incidents, newest first, enough for the page's 50."""
    found: list[Incident] = []
    shown = 0
    before: tuple[datetime, uuid.UUID] | None = None
    while len(found) < MAX_SCAN:
        batch = await store.incident_page(page.org_id, BATCH, before, drafts=False)
        found.extend(batch)
        shown += sum(1 for i in batch if affects_page(i, components))
        if len(batch) < BATCH or shown >= LIMIT:
            break
        before = (batch[-1].started_at, batch[-1].id)
    return found


async def _rows(store: Store, page: StatusPage, url: str) -> PageRows:
    components = await store.page_components(page.id)
    multi = [m.id for _, m in components if m is not None and len(m.config.regions) > 1]
    return PageRows(
        page=page,
        url=url,
        components=components,
        region_states=await store.region_states(multi) if multi else [],
        overrides=await store.list_overrides(page.org_id),
        maintenances=await store.list_maintenances(page.org_id),
        incidents=await _incidents(store, page, components),
        groups=await store.list_groups(page.id),
    )


async def _serve(slug: str, request: Request, svc: ServicesDep, document: Document) -> Response:
    page = await svc.store.get_page(slug)
    if page is None:
        body = error_body("not_found", "status page not found")
        return JSONResponse(body, status_code=404, headers=CORS)
    url = str(request.base_url).rstrip("/") + f"/s/{page.slug}"
    view = StatuspageView(await _rows(svc.store, page, url), utcnow())
    payload = json.dumps(document(view), separators=(",", ":")).encode()
    etag = '"' + hashlib.sha256(payload).hexdigest()[:32] + '"'
    headers = {**CORS, "ETag": etag, "Cache-Control": CACHE_CONTROL}
    if etag in _etags(request.headers.get("if-none-match", "")):
        return Response(status_code=304, headers=headers)
    return Response(payload, media_type="application/json", headers=headers)


def _etags(header: str) -> set[str]:
    return {t.strip().removeprefix("W/") for t in header.split(",") if t.strip()}


@router.get("/summary.json")
async def summary(slug: str, request: Request, svc: ServicesDep) -> Response:
    """Page, components, unresolved incidents, upcoming and active maintenances, status."""
    return await _serve(slug, request, svc, StatuspageView.summary)


@router.get("/status.json")
async def status(slug: str, request: Request, svc: ServicesDep) -> Response:
    """The overall indicator and its description."""
    return await _serve(slug, request, svc, StatuspageView.status)


@router.get("/components.json")
async def components(slug: str, request: Request, svc: ServicesDep) -> Response:
    return await _serve(slug, request, svc, StatuspageView.components)


@router.get("/incidents.json")
async def incidents(slug: str, request: Request, svc: ServicesDep) -> Response:
    """The 50 most recent published incidents of the page."""
    return await _serve(slug, request, svc, StatuspageView.incidents)


@router.get("/incidents/unresolved.json")
async def unresolved_incidents(slug: str, request: Request, svc: ServicesDep) -> Response:
    return await _serve(slug, request, svc, StatuspageView.unresolved_incidents)


@router.get("/scheduled-maintenances.json")
async def scheduled_maintenances(slug: str, request: Request, svc: ServicesDep) -> Response:
    """The 50 most recent maintenances of the page (by scheduled start)."""
    return await _serve(slug, request, svc, StatuspageView.scheduled_maintenances)


@router.get("/scheduled-maintenances/upcoming.json")
async def upcoming_maintenances(slug: str, request: Request, svc: ServicesDep) -> Response:
    return await _serve(slug, request, svc, StatuspageView.upcoming_maintenances)


@router.get("/scheduled-maintenances/active.json")
async def active_maintenances(slug: str, request: Request, svc: ServicesDep) -> Response:
    return await _serve(slug, request, svc, StatuspageView.active_maintenances)
