"""``GET /api/v1/status/{slug}``: public status data (no auth), cacheable, with an ETag."""

from __future__ import annotations

import hashlib
import json

from fastapi import APIRouter, Request, Response

from statpulse.model import utcnow
from statpulse.web.deps import ServicesDep
from statpulse.web.errors import not_found
from statpulse.web.public.data import page_view
from statpulse.web.public.view import PageView, iso_utc, status_label

router = APIRouter(prefix="/api/v1/status", tags=["public"])

CACHE_CONTROL = "public, max-age=5, stale-while-revalidate=30, stale-if-error=86400"


def status_document(view: PageView) -> dict[str, object]:
    return {
        "page": {"slug": view.slug, "title": view.title, "description": view.description},
        "status": view.overall.value,
        "description": view.banner,
        "updated_at": iso_utc(view.updated_at),
        "components": [
            {
                "id": c.id,
                "name": c.name,
                "description": c.description,
                "status": c.status.value,
                "status_label": status_label(c.status),
                "uptime_90d_pct": c.uptime_pct,
                "regions": c.regions,
            }
            for c in view.components
        ],
    }


@router.get("/{slug}")
async def public_status(slug: str, request: Request, svc: ServicesDep) -> Response:
    page = await svc.store.get_page(slug)
    if page is None:
        raise not_found("status page")
    doc = status_document(await page_view(svc.store, page, utcnow()))
    # The ETag covers the state, not the render time, so an unchanged page revalidates to 304.
    state = {k: v for k, v in doc.items() if k != "updated_at"}
    etag = '"' + hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    if etag in _etags(request.headers.get("if-none-match", "")):
        return Response(status_code=304, headers=headers)
    return Response(
        json.dumps(doc, separators=(",", ":")), media_type="application/json", headers=headers
    )


def _etags(header: str) -> set[str]:
    return {t.strip().removeprefix("W/") for t in header.split(",") if t.strip()}
