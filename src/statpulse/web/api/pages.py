"""``/api/v1/pages`` and ``/api/v1/components``: what a status page lists
(``/api/v1/pages/{slug}/components``: one page's, in display order). Pages (by slug) and
components (by id) are created, changed and deleted here; another organisation's is a 404."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Response

from statpulse.model import Component, StatusPage
from statpulse.store.contract import Conflict
from statpulse.web.api.schemas import (
    ComponentIn,
    ComponentOut,
    ComponentPatch,
    PageIn,
    PageOut,
    PagePatch,
)
from statpulse.web.deps import ReadKey, ServicesDep, WriteKey, actor
from statpulse.web.errors import ApiError, invalid, not_found

router = APIRouter(prefix="/api/v1", tags=["pages"])


def _page_out(p: StatusPage) -> PageOut:
    return PageOut(
        id=p.id, slug=p.slug, title=p.title, description=p.description, created_at=p.created_at
    )


def _component_out(c: Component) -> ComponentOut:
    return ComponentOut(
        id=c.id,
        name=c.name,
        description=c.description,
        monitor_id=c.monitor_id,
        created_at=c.created_at,
    )


@router.post("/pages", status_code=201, response_model=PageOut)
async def create_page(body: PageIn, key: WriteKey, svc: ServicesDep) -> PageOut:
    try:
        page = await svc.store.create_page(key.org_id, body.slug, body.title, body.description)
    except Conflict as exc:
        raise ApiError(409, "conflict", str(exc), field=exc.field) from exc
    await svc.store.audit(
        key.org_id, actor(key), "page.create", "status_page", page.id, None, body.model_dump()
    )
    return _page_out(page)


@router.get("/pages", response_model=list[PageOut])
async def list_pages(key: ReadKey, svc: ServicesDep) -> list[PageOut]:
    return [_page_out(p) for p in await svc.store.list_pages(key.org_id)]


async def _page(svc: ServicesDep, org_id: uuid.UUID, slug: str) -> StatusPage:
    """The organisation's page ``slug``; another organisation's is a 404, like a slug that
    does not exist."""
    page = await svc.store.get_page(slug)
    if page is None or page.org_id != org_id:
        raise not_found(f"page {slug!r}")
    return page


def _page_document(p: StatusPage) -> dict[str, Any]:
    return {"slug": p.slug, "title": p.title, "description": p.description}


@router.patch("/pages/{slug}", response_model=PageOut)
async def update_page(slug: str, body: PagePatch, key: WriteKey, svc: ServicesDep) -> PageOut:
    current = await _page(svc, key.org_id, slug)
    fields = body.set_fields()
    updated = await svc.store.update_page(
        key.org_id,
        current.id,
        fields.get("title", current.title),
        fields.get("description", current.description),
    )
    if updated is None:
        raise not_found(f"page {slug!r}")
    await svc.store.audit(
        key.org_id,
        actor(key),
        "page.update",
        "status_page",
        current.id,
        _page_document(current),
        _page_document(updated),
    )
    return _page_out(updated)


@router.delete("/pages/{slug}", status_code=204)
async def delete_page(slug: str, key: WriteKey, svc: ServicesDep) -> Response:
    current = await _page(svc, key.org_id, slug)
    if not await svc.store.delete_page(key.org_id, current.id):
        raise not_found(f"page {slug!r}")
    await svc.store.audit(
        key.org_id,
        actor(key),
        "page.delete",
        "status_page",
        current.id,
        _page_document(current),
        None,
    )
    return Response(status_code=204)


@router.get("/pages/{slug}/components", response_model=list[ComponentOut])
async def list_page_components(slug: str, key: ReadKey, svc: ServicesDep) -> list[ComponentOut]:
    """The components a page shows, in its display order (private pages included). Another
    organisation's page is a 404, like a slug that does not exist."""
    page = await _page(svc, key.org_id, slug)
    return [_component_out(c) for c, _ in await svc.store.page_components(page.id)]


@router.post("/components", status_code=201, response_model=ComponentOut)
async def create_component(body: ComponentIn, key: WriteKey, svc: ServicesDep) -> ComponentOut:
    if body.monitor_id is not None and not await svc.store.get_monitor(key.org_id, body.monitor_id):
        raise invalid("monitor_id", "no such monitor")
    page_ids = await _page_ids(svc, key.org_id, body.pages)
    component = await svc.store.create_component(
        key.org_id, body.name, body.description, body.monitor_id, page_ids
    )
    await svc.store.audit(
        key.org_id,
        actor(key),
        "component.create",
        "component",
        component.id,
        None,
        body.model_dump(mode="json"),
    )
    return _component_out(component)


@router.get("/components", response_model=list[ComponentOut])
async def list_components(key: ReadKey, svc: ServicesDep) -> list[ComponentOut]:
    return [_component_out(c) for c in await svc.store.list_components(key.org_id)]


async def _page_ids(svc: ServicesDep, org_id: uuid.UUID, slugs: list[str]) -> list[uuid.UUID]:
    page_ids = []
    for i, slug in enumerate(slugs):
        page = await svc.store.get_page(slug)
        if page is None or page.org_id != org_id:
            raise invalid(f"pages[{i}]", f"no such page {slug!r}")
        page_ids.append(page.id)
    return page_ids


async def _component_document(svc: ServicesDep, c: Component) -> dict[str, Any]:
    return {
        "name": c.name,
        "description": c.description,
        "monitor_id": str(c.monitor_id) if c.monitor_id else None,
        "pages": [p.slug for p in await svc.store.component_pages(c.id)],
    }


@router.patch("/components/{component_id}", response_model=ComponentOut)
async def update_component(
    component_id: uuid.UUID, body: ComponentPatch, key: WriteKey, svc: ServicesDep
) -> ComponentOut:
    current = await svc.store.get_component(key.org_id, component_id)
    if current is None:
        raise not_found("component")
    fields = body.set_fields(nullable=("monitor_id",))
    monitor_id = fields.get("monitor_id", current.monitor_id)
    if (
        "monitor_id" in fields
        and monitor_id is not None
        and not await svc.store.get_monitor(key.org_id, monitor_id)
    ):
        raise invalid("monitor_id", "no such monitor")
    page_ids = await _page_ids(svc, key.org_id, fields["pages"]) if "pages" in fields else None
    before = await _component_document(svc, current)
    updated = await svc.store.update_component(
        key.org_id,
        component_id,
        fields.get("name", current.name),
        fields.get("description", current.description),
        monitor_id,
        page_ids,
    )
    if updated is None:
        raise not_found("component")
    await svc.store.audit(
        key.org_id,
        actor(key),
        "component.update",
        "component",
        component_id,
        before,
        await _component_document(svc, updated),
    )
    return _component_out(updated)


@router.delete("/components/{component_id}", status_code=204)
async def delete_component(component_id: uuid.UUID, key: WriteKey, svc: ServicesDep) -> Response:
    current = await svc.store.get_component(key.org_id, component_id)
    if current is None:
        raise not_found("component")
    before = await _component_document(svc, current)
    if not await svc.store.delete_component(key.org_id, component_id):
        raise not_found("component")
    await svc.store.audit(
        key.org_id, actor(key), "component.delete", "component", component_id, before, None
    )
    return Response(status_code=204)
