"""Access rules of private pages and their one-time sign-in links in the store (SQLite,
PostgreSQL, PostgreSQL through PgBouncer)."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from statpulse.model import StatusPage, utcnow
from statpulse.store import schema as t
from statpulse.store.sql import SqlStore


async def _page(store: SqlStore, slug: str = "acme") -> StatusPage:
    org = await store.get_org_by_slug("acme") or await store.create_org("acme", "Acme")
    return await store.create_page(org.id, slug, slug.title(), "")


async def test_a_page_without_rules_has_no_access_row(store: SqlStore) -> None:
    page = await _page(store)
    assert await store.get_page_access(page.id) is None
    assert await store.page_access_by_slug("acme") is None
    assert await store.page_access_by_slug("nope") is None


async def test_rules_are_stored_and_read_by_page_id_and_by_slug(store: SqlStore) -> None:
    page = await _page(store)
    other = await _page(store, "other")
    stored = await store.set_page_access(
        page.id,
        password_hash="$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
        email_domains=["example.com", "example.org"],
        ip_allowlist=["10.0.0.0/8", "2001:db8::/32"],
    )
    assert stored.private
    assert stored.session_version == 1
    assert stored.email_domains == ("example.com", "example.org")
    assert stored.ip_allowlist == ("10.0.0.0/8", "2001:db8::/32")
    assert await store.get_page_access(page.id) == stored
    assert await store.page_access_by_slug("acme") == stored
    assert await store.page_access_by_slug("other") is None
    assert await store.get_page_access(other.id) is None


async def test_a_change_bumps_the_session_version_and_an_identical_write_does_not(
    store: SqlStore,
) -> None:
    page = await _page(store)
    first = await store.set_page_access(
        page.id, password_hash="h1", email_domains=[], ip_allowlist=[]
    )
    same = await store.set_page_access(
        page.id, password_hash="h1", email_domains=[], ip_allowlist=[]
    )
    assert same.session_version == first.session_version == 1
    new_password = await store.set_page_access(
        page.id, password_hash="h2", email_domains=[], ip_allowlist=[]
    )
    assert new_password.session_version == 2
    new_rules = await store.set_page_access(
        page.id, password_hash="h2", email_domains=[], ip_allowlist=["192.0.2.0/24"]
    )
    assert new_rules.session_version == 3
    public = await store.set_page_access(
        page.id, password_hash=None, email_domains=[], ip_allowlist=[]
    )
    assert public.session_version == 4
    assert not public.private


async def test_rules_and_links_go_with_their_page(store: SqlStore) -> None:
    page = await _page(store)
    await store.set_page_access(page.id, password_hash="h", email_domains=[], ip_allowlist=[])
    await store.create_access_link(page.id, utcnow() + timedelta(minutes=15))
    async with store.engine.begin() as conn:
        await conn.execute(t.status_pages.delete().where(t.status_pages.c.id == page.id))
    assert await store.get_page_access(page.id) is None
    async with store.engine.connect() as conn:
        left = await conn.execute(sa.select(sa.func.count()).select_from(t.page_access_links))
        assert left.scalar_one() == 0


async def test_a_link_works_once(store: SqlStore) -> None:
    page = await _page(store)
    now = utcnow()
    link = await store.create_access_link(page.id, now + timedelta(minutes=15))
    assert await store.use_access_link(link, page.id, now) is True
    assert await store.use_access_link(link, page.id, now) is False


async def test_an_expired_link_or_another_pages_link_does_not_work(store: SqlStore) -> None:
    page = await _page(store)
    other = await _page(store, "other")
    now = utcnow()
    link = await store.create_access_link(page.id, now + timedelta(minutes=15))
    assert await store.use_access_link(link, other.id, now) is False
    assert await store.use_access_link(link, page.id, now + timedelta(minutes=16)) is False
    assert await store.use_access_link(link, page.id, now) is True


async def test_creating_a_link_deletes_the_expired_ones(store: SqlStore) -> None:
    page = await _page(store)
    old = await store.create_access_link(page.id, utcnow() - timedelta(seconds=1))
    await store.create_access_link(page.id, utcnow() + timedelta(minutes=15))
    async with store.engine.connect() as conn:
        ids = (await conn.execute(sa.select(t.page_access_links.c.id))).scalars().all()
    assert old not in ids
    assert len(ids) == 1
