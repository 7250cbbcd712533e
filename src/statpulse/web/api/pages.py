"""``/api/v1/pages`` and ``/api/v1/components``: what a status page lists
(``/api/v1/pages/{slug}/components``: one page's, in display order)."""

from __future__ import annotations

from fastapi import APIRouter

from statpulse.model import Component, StatusPage
from statpulse.store.contract import Conflict
from statpulse.web.api.schemas import ComponentIn, ComponentOut, PageIn, PageOut
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


@router.get("/pages/{slug}/components", response_model=list[ComponentOut])
async def list_page_components(slug: str, key: ReadKey, svc: ServicesDep) -> list[ComponentOut]:
    """The components a page shows, in its display order (private pages included). Another
    organisation's page is a 404, like a slug that does not exist."""
    page = await svc.store.get_page(slug)
    if page is None or page.org_id != key.org_id:
        raise not_found(f"page {slug!r}")
    return [_component_out(c) for c, _ in await svc.store.page_components(page.id)]


@router.post("/components", status_code=201, response_model=ComponentOut)
async def create_component(body: ComponentIn, key: WriteKey, svc: ServicesDep) -> ComponentOut:
    if body.monitor_id is not None and not await svc.store.get_monitor(key.org_id, body.monitor_id):
        raise invalid("monitor_id", "no such monitor")
    page_ids = []
    for i, slug in enumerate(body.pages):
        page = await svc.store.get_page(slug)
        if page is None or page.org_id != key.org_id:
            raise invalid(f"pages[{i}]", f"no such page {slug!r}")
        page_ids.append(page.id)
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
