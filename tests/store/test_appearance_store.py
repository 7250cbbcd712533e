"""Page appearance in the store (SQLite, PostgreSQL and PostgreSQL through PgBouncer)."""

from __future__ import annotations

import base64

import sqlalchemy as sa

from statpulse.store import schema as t
from statpulse.store.sql import SqlStore
from statpulse.web.public.appearance import (
    DEFAULT_APPEARANCE,
    HeaderLink,
    Image,
    PageAppearance,
    from_document,
    to_document,
)

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + (64).to_bytes(4, "big") + (32).to_bytes(4, "big")
SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">'
    b'<rect width="10" height="10"/></svg>'
)


def branded() -> PageAppearance:
    return PageAppearance(
        theme="liquid-glass",
        colors={"accent": "#112233", "background": "#ffffff", "text": "#111111"},
        font="serif",
        color_scheme="dark",
        custom_css=".banner { letter-spacing: .02em; }",
        logo=Image("image/png", PNG),
        favicon=Image("image/svg+xml", SVG),
        header_links=(HeaderLink("Docs", "https://example.com/docs"),),
        language="de",
    )


async def test_a_page_without_a_stored_appearance_has_the_default(store: SqlStore) -> None:
    org = await store.create_org("acme", "Acme")
    page = await store.create_page(org.id, "acme", "Acme", "")
    assert await store.get_page_appearance(page.id) == DEFAULT_APPEARANCE


async def test_the_appearance_is_stored_replaced_and_read_back_per_page(store: SqlStore) -> None:
    org = await store.create_org("acme", "Acme")
    page = await store.create_page(org.id, "acme", "Acme", "")
    other = await store.create_page(org.id, "other", "Other", "")
    await store.set_page_appearance(page.id, branded())
    assert await store.get_page_appearance(page.id) == branded()
    assert await store.get_page_appearance(other.id) == DEFAULT_APPEARANCE
    plain = PageAppearance(theme="high-contrast")
    await store.set_page_appearance(page.id, plain)
    assert await store.get_page_appearance(page.id) == plain
    async with store.engine.connect() as conn:
        rows = (await conn.execute(sa.select(t.page_appearance.c.page_id))).all()
    assert [r.page_id for r in rows] == [page.id]


async def test_deleting_the_page_deletes_its_appearance(store: SqlStore) -> None:
    org = await store.create_org("acme", "Acme")
    page = await store.create_page(org.id, "acme", "Acme", "")
    await store.set_page_appearance(page.id, branded())
    async with store.engine.begin() as conn:
        await conn.execute(t.status_pages.delete().where(t.status_pages.c.id == page.id))
        left = (
            await conn.execute(sa.select(sa.func.count()).select_from(t.page_appearance))
        ).scalar()
    assert left == 0


async def test_a_stored_document_that_no_longer_validates_reads_as_the_default(
    store: SqlStore,
) -> None:
    org = await store.create_org("acme", "Acme")
    page = await store.create_page(org.id, "acme", "Acme", "")
    await store.set_page_appearance(page.id, branded())
    bad = {"custom_css": "@import url(https://evil.example/x.css);"}
    async with store.engine.begin() as conn:
        await conn.execute(t.page_appearance.update().values(document=bad))
    assert await store.get_page_appearance(page.id) == DEFAULT_APPEARANCE


def test_the_stored_document_round_trips_images_as_base64() -> None:
    doc = to_document(branded())
    assert doc["logo"] == {"media_type": "image/png", "data": base64.b64encode(PNG).decode()}
    assert from_document(doc) == branded()
