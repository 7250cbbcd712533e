"""Component groups in the store (SQLite, PostgreSQL and PostgreSQL through PgBouncer): order,
members in page order, moving a member, ungrouping on delete, the page-membership key."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from statpulse.store import schema as t
from statpulse.store.sql import SqlStore


async def test_groups_are_listed_by_position_with_members_in_page_order(store: SqlStore) -> None:
    org = await store.create_org("acme", "Acme")
    page = await store.create_page(org.id, "acme", "Acme", "")
    api, _web, db = [
        await store.create_component(org.id, name, "", None, [page.id])
        for name in ("API", "Web", "DB")
    ]
    core = await store.create_group(org.id, page.id, "Core", [db.id, api.id, db.id])
    assert core.components == (api.id, db.id)
    assert (core.name, core.position, core.page_id, core.org_id) == ("Core", 0, page.id, org.id)
    edge = await store.create_group(org.id, page.id, "Edge", [])
    assert edge.position == 1 and edge.components == ()
    listed = await store.list_groups(page.id)
    assert [(g.name, g.components) for g in listed] == [
        ("Core", (api.id, db.id)),
        ("Edge", ()),
    ]
    other = await store.create_page(org.id, "other", "Other", "")
    assert await store.list_groups(other.id) == []


async def test_a_member_moves_and_a_delete_ungroups(store: SqlStore) -> None:
    org = await store.create_org("acme", "Acme")
    page = await store.create_page(org.id, "acme", "Acme", "")
    api, web = [
        await store.create_component(org.id, name, "", None, [page.id]) for name in ("API", "Web")
    ]
    first = await store.create_group(org.id, page.id, "A", [api.id, web.id])
    second = await store.create_group(org.id, page.id, "B", [web.id])
    groups = {g.name: g.components for g in await store.list_groups(page.id)}
    assert groups == {"A": (api.id,), "B": (web.id,)}

    other_org = await store.create_org("other", "Other")
    assert not await store.delete_group(other_org.id, page.id, first.id)
    assert await store.delete_group(org.id, page.id, first.id)
    assert not await store.delete_group(org.id, page.id, first.id)
    assert [g.id for g in await store.list_groups(page.id)] == [second.id]
    async with store.engine.connect() as conn:
        members = (await conn.execute(sa.select(t.component_group_members))).all()
    assert [(m.component_id, m.group_id) for m in members] == [(web.id, second.id)]
    assert [c.id for c, _ in await store.page_components(page.id)] == [api.id, web.id]


async def test_only_components_on_the_page_can_join(store: SqlStore) -> None:
    org = await store.create_org("acme", "Acme")
    page = await store.create_page(org.id, "acme", "Acme", "")
    elsewhere = await store.create_component(org.id, "Internal", "", None, [])
    with pytest.raises(sa.exc.IntegrityError):
        await store.create_group(org.id, page.id, "Core", [elsewhere.id])
    assert await store.list_groups(page.id) == []  # the transaction rolled back
