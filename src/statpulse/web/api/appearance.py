"""``GET/PUT /api/v1/pages/{slug}/appearance``: how a status page looks (theme, colours, font,
colour scheme, custom CSS, logo, favicon, header links, language).

PUT replaces the whole appearance (an omitted field gets its default; ``null`` removes a logo
or favicon). Everything is validated before anything is stored
(``web/public/appearance.from_document``): a bad PUT is a 422 naming the field (``logo.data``,
``header_links[1].url``, ``custom_css``, ``colors.text``) and leaves the stored appearance as it
was. An SVG is stored sanitised (the GET shows what is served); custom CSS is refused rather
than rewritten. Another organisation's page is a 404, exactly like a slug that does not exist.
Every PUT writes an audit entry (``page.appearance``; images summarised by type and size).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from statpulse.model import ApiKey, StatusPage
from statpulse.web.api.incidents import ERRORS
from statpulse.web.deps import ReadKey, ServicesDep, WriteKey, actor
from statpulse.web.errors import invalid, not_found
from statpulse.web.public.appearance import (
    AppearanceError,
    audit_document,
    from_document,
    to_document,
)
from statpulse.web.services import Services

router = APIRouter(prefix="/api/v1", tags=["pages"], responses=ERRORS)


class ImageDoc(BaseModel):
    model_config = ConfigDict(extra="forbid")
    media_type: Literal["image/png", "image/jpeg", "image/webp", "image/gif", "image/svg+xml"]
    data: str = Field(description="The image, base64; at most 256 KB decoded.")


class HeaderLinkDoc(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str = Field(description="At most 40 characters.")
    url: str = Field(description="An https://, http:// or mailto: URL.")


class AppearanceDoc(BaseModel):
    model_config = ConfigDict(extra="forbid")
    theme: Literal["default", "liquid-glass", "high-contrast"] = "default"
    colors: dict[str, str] = Field(
        default_factory=dict,
        description="Hex colours (#rgb or #rrggbb) for accent, up, degraded, down, "
        "maintenance, background, text; background and text go together (contrast >= 4.5:1).",
    )
    font: Literal["system", "serif", "mono", "rounded"] = "system"
    color_scheme: Literal["auto", "light", "dark"] = Field(
        "auto", description="auto follows the visitor's prefers-color-scheme."
    )
    custom_css: str = Field("", description="At most 32 KB; no @import, no external url().")
    logo: ImageDoc | None = None
    favicon: ImageDoc | None = None
    header_links: list[HeaderLinkDoc] = Field(default_factory=list, description="At most 8.")
    language: str = Field("en", description="One of en, de.")


async def _own_page(svc: Services, key: ApiKey, slug: str) -> StatusPage:
    page = await svc.store.get_page(slug)
    if page is None or page.org_id != key.org_id:
        raise not_found("status page")
    return page


@router.get("/pages/{slug}/appearance", response_model=AppearanceDoc)
async def get_appearance(slug: str, key: ReadKey, svc: ServicesDep) -> dict[str, Any]:
    page = await _own_page(svc, key, slug)
    return to_document(await svc.store.get_page_appearance(page.id))


@router.put("/pages/{slug}/appearance", response_model=AppearanceDoc)
async def put_appearance(
    slug: str, body: AppearanceDoc, key: WriteKey, svc: ServicesDep
) -> dict[str, Any]:
    page = await _own_page(svc, key, slug)
    try:
        appearance = from_document(body.model_dump())
    except AppearanceError as exc:
        raise invalid(exc.field, exc.message) from exc
    before = await svc.store.get_page_appearance(page.id)
    await svc.store.set_page_appearance(page.id, appearance)
    await svc.store.audit(
        key.org_id,
        actor(key),
        "page.appearance",
        "status_page",
        page.id,
        audit_document(before),
        audit_document(appearance),
    )
    return to_document(appearance)
