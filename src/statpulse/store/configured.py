"""The store as the settings describe it: URL, PgBouncer mode, master keys of stored secrets."""

from __future__ import annotations

from statpulse.security.secrets import load_or_create_keyring
from statpulse.settings import Settings
from statpulse.store.sql import SqlStore, open_store


async def open_configured_store(settings: Settings, *, migrate: bool = True) -> SqlStore:
    """Every process opens its store this way, so all of them seal and open secrets alike."""
    return await open_store(
        settings.database_url,
        migrate=migrate,
        keyring=load_or_create_keyring(settings),
        pgbouncer=settings.pgbouncer,
    )
