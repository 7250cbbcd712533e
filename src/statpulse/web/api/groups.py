"""``/api/v1/pages/{slug}/groups``: component groups of a status page (Statuspage's "group"
components).

POST creates a group last on the page from ``{"name", "components": [ids]}``: every id must be a
component on that page (else a 422 naming ``components[i]``; nothing is stored); a component
already in another group of the page moves to the new one. DELETE removes a group, its members
become ungrouped. Another organisation's page is a 404, like a slug that does not exist. POST
and DELETE write audit entries (``group.create``, ``group.delete``).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from statpulse.model import ApiKey, StatusPage
from statpulse.store.sql_groups import ComponentGroup
from statpulse.web.api.incidents import ERRORS
from statpulse.web.deps import ReadKey, ServicesDep, WriteKey, actor
from statpulse.web.errors import invalid, not_found
from statpulse.web.services import Services

router = APIRouter(prefix="/api/v1", tags=["pages"], responses=ERRORS)

MAX_NAME = 200


class GroupIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="1 to 200 characters.")
    components: list[str] = Field(description="Ids of components on the page, in any order.")


class GroupOut(BaseModel):
    id: uuid.UUID
    name: str
    position: int
    components: list[uuid.UUID]
    created_at: datetime


def _out(g: ComponentGroup) -> GroupOut:
    return GroupOut(
        id=g.id,
        name=g.name,
        position=g.position,
        components=list(g.components),
        created_at=g.created_at,
    )


async def _page(svc: Services, key: ApiKey, slug: str) -> StatusPage:
    page = await svc.store.get_page(slug)
    if page is None or page.org_id != key.org_id:
        raise not_found("page")
    return page


@router.post("/pages/{slug}/groups", status_code=201, response_model=GroupOut)
async def create_group(slug: str, body: GroupIn, key: WriteKey, svc: ServicesDep) -> GroupOut:
    page = await _page(svc, key, slug)
    name = body.name.strip()
    if not name or len(name) > MAX_NAME:
        raise invalid("name", f"must be 1 to {MAX_NAME} characters")
    on_page = {c.id for c, _ in await svc.store.page_components(page.id)}
    ids: list[uuid.UUID] = []
    for i, raw in enumerate(body.components):
        try:
            component_id = uuid.UUID(raw)
        except ValueError:
            raise invalid(f"components[{i}]", "must be a component id") from None
        if component_id not in on_page:
            raise invalid(f"components[{i}]", f"no component {raw} on page {slug!r}")
        ids.append(component_id)
    group = await svc.store.create_group(key.org_id, page.id, name, ids)
    after = {"page": slug, "name": name, "components": [str(c) for c in group.components]}
    await svc.store.audit(
        key.org_id, actor(key), "group.create", "component_group", group.id, None, after
    )
    return _out(group)


@router.get("/pages/{slug}/groups", response_model=list[GroupOut])
async def list_groups(slug: str, key: ReadKey, svc: ServicesDep) -> list[GroupOut]:
    page = await _page(svc, key, slug)
    return [_out(g) for g in await svc.store.list_groups(page.id)]


@router.delete("/pages/{slug}/groups/{group_id}", status_code=204)
async def delete_group(slug: str, group_id: str, key: WriteKey, svc: ServicesDep) -> Response:
    page = await _page(svc, key, slug)
    try:
        gid = uuid.UUID(group_id)
    except ValueError:
        raise not_found("group") from None
    before = next((g for g in await svc.store.list_groups(page.id) if g.id == gid), None)
    if before is None or not await svc.store.delete_group(key.org_id, page.id, gid):
        raise not_found("group")
    doc = {"page": slug, "name": before.name, "components": [str(c) for c in before.components]}
    await svc.store.audit(key.org_id, actor(key), "group.delete", "component_group", gid, doc, None)
    return Response(status_code=204)
