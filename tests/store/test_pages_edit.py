"""Changing and deleting status pages and components in the store (SQLite, PostgreSQL and
PostgreSQL through PgBouncer): per organisation, re-linking keeps a page's order, deletes
cascade to the links and group memberships."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from statpulse.store import schema as t
from statpulse.store.sql import SqlStore
from tests.store.test_contract import config


async def _names(store: SqlStore, page_id: uuid.UUID) -> list[str]:
    return [c.name for c, _ in await store.page_components(page_id)]


async def test_a_page_is_updated_and_deleted_only_by_its_organisation(store: SqlStore) -> None:
    org = await store.create_org("acme", "Acme")
    other = await store.create_org("other", "Other")
    page = await store.create_page(org.id, "acme", "Acme", "")
    assert await store.update_page(other.id, page.id, "Theirs", "") is None
    updated = await store.update_page(org.id, page.id, "Acme status", "All of it")
    assert updated is not None
    assert (updated.id, updated.slug, updated.title, updated.description) == (
        page.id,
        "acme",
        "Acme status",
        "All of it",
    )
    assert updated.created_at == page.created_at
    assert await store.get_page("acme") == updated

    api = await store.create_component(org.id, "API", "", None, [page.id])
    await store.create_group(org.id, page.id, "Core", [api.id])
    assert not await store.delete_page(other.id, page.id)
    assert await store.delete_page(org.id, page.id)
    assert not await store.delete_page(org.id, page.id)
    assert await store.get_page("acme") is None
    assert await store.page_components(page.id) == []
    assert await store.list_groups(page.id) == []
    # The component belongs to the organisation: it stays, on no page.
    assert [c.id for c in await store.list_components(org.id)] == [api.id]
    assert await store.component_pages(api.id) == []
    async with store.engine.connect() as conn:
        links = await conn.execute(sa.select(sa.func.count()).select_from(t.page_components))
        assert links.scalar_one() == 0


async def test_relinking_keeps_the_order_of_the_pages_it_stays_on(store: SqlStore) -> None:
    org = await store.create_org("acme", "Acme")
    a = await store.create_page(org.id, "a", "A", "")
    b = await store.create_page(org.id, "b", "B", "")
    c = await store.create_page(org.id, "c", "C", "")
    api, web, db = [
        await store.create_component(org.id, name, "", None, [a.id, b.id])
        for name in ("API", "Web", "DB")
    ]
    await store.create_component(org.id, "CDN", "", None, [c.id])
    monitor = await store.create_monitor(org.id, config())

    updated = await store.update_component(
        org.id, api.id, "Public API", "REST", monitor.id, [c.id, a.id]
    )
    assert updated is not None
    assert (updated.id, updated.name, updated.description, updated.monitor_id) == (
        api.id,
        "Public API",
        "REST",
        monitor.id,
    )
    assert await _names(store, a.id) == ["Public API", "Web", "DB"]  # kept its place
    assert await _names(store, b.id) == ["Web", "DB"]  # unlinked
    assert await _names(store, c.id) == ["CDN", "Public API"]  # new: at the end
    assert [p.slug for p in await store.component_pages(api.id)] == ["a", "c"]

    # None leaves the pages as they are; the monitor can be unlinked.
    same = await store.update_component(org.id, api.id, "Public API", "REST", None, None)
    assert same is not None and same.monitor_id is None
    assert [p.slug for p in await store.component_pages(api.id)] == ["a", "c"]
    assert await store.get_component(org.id, api.id) == same

    other = await store.create_org("other", "Other")
    assert await store.get_component(other.id, api.id) is None
    assert await store.update_component(other.id, web.id, "Mine", "", None, []) is None
    assert await _names(store, a.id) == ["Public API", "Web", "DB"]
    assert db.id in {x.id for x in await store.list_components(org.id)}


async def test_deleting_a_component_takes_it_off_every_page(store: SqlStore) -> None:
    org = await store.create_org("acme", "Acme")
    a = await store.create_page(org.id, "a", "A", "")
    b = await store.create_page(org.id, "b", "B", "")
    api = await store.create_component(org.id, "API", "", None, [a.id, b.id])
    web = await store.create_component(org.id, "Web", "", None, [a.id])
    await store.create_group(org.id, a.id, "Core", [api.id, web.id])

    other = await store.create_org("other", "Other")
    assert not await store.delete_component(other.id, api.id)
    assert await store.delete_component(org.id, api.id)
    assert not await store.delete_component(org.id, api.id)
    assert await store.get_component(org.id, api.id) is None
    assert await _names(store, a.id) == ["Web"]
    assert await _names(store, b.id) == []
    assert [g.components for g in await store.list_groups(a.id)] == [(web.id,)]
    assert [c.id for c in await store.list_components(org.id)] == [web.id]
    # A component added afterwards still goes to the end.
    db = await store.create_component(org.id, "DB", "", None, [a.id])
    assert [c.id for c, _ in await store.page_components(a.id)] == [web.id, db.id]
