"""``SqlStore``: the storage contract on SQLite and PostgreSQL (SQLAlchemy Core, async)."""

from __future__ import annotations

import sqlalchemy as sa

from statpulse.store.engine import create_engine
from statpulse.store.migrate import upgrade
from statpulse.store.sql_accounts import AccountsMixin
from statpulse.store.sql_heartbeats import HeartbeatsMixin
from statpulse.store.sql_monitors import MonitorsMixin
from statpulse.store.sql_pages import PagesMixin
from statpulse.store.sql_results import ResultsMixin
from statpulse.store.sql_slos import SlosMixin


class SqlStore(AccountsMixin, MonitorsMixin, ResultsMixin, PagesMixin, HeartbeatsMixin, SlosMixin):
    async def close(self) -> None:
        await self._engine.dispose()

    async def ping(self) -> None:
        async with self._engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))


async def open_store(url: str, *, migrate: bool = True) -> SqlStore:
    """Connect to ``url`` and (by default) bring its schema to the newest migration."""
    engine = create_engine(url)
    if migrate:
        try:
            await upgrade(engine)
        except BaseException:
            await engine.dispose()
            raise
    return SqlStore(engine)
