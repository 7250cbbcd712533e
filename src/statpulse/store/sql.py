"""``SqlStore``: the storage contract on SQLite and PostgreSQL (SQLAlchemy Core, async)."""

from __future__ import annotations

import sqlalchemy as sa

from statpulse.security.secrets import Keyring
from statpulse.store.engine import create_engine
from statpulse.store.migrate import upgrade
from statpulse.store.sql_access import AccessMixin
from statpulse.store.sql_accounts import AccountsMixin
from statpulse.store.sql_appearance import AppearanceMixin
from statpulse.store.sql_channels import ChannelsMixin
from statpulse.store.sql_domains import DomainsMixin
from statpulse.store.sql_groups import GroupsMixin
from statpulse.store.sql_heartbeats import HeartbeatsMixin
from statpulse.store.sql_incidents import IncidentsMixin
from statpulse.store.sql_keys import KeysMixin
from statpulse.store.sql_monitors import MonitorsMixin
from statpulse.store.sql_outbox import OutboxMixin
from statpulse.store.sql_pages import PagesMixin
from statpulse.store.sql_results import ResultsMixin
from statpulse.store.sql_runners import RunnersMixin
from statpulse.store.sql_slos import SlosMixin
from statpulse.store.sql_subscribers import SubscribersMixin


class SqlStore(
    SubscribersMixin,  # before ChannelsMixin, its base
    AccountsMixin,
    MonitorsMixin,
    ChannelsMixin,
    ResultsMixin,
    PagesMixin,
    HeartbeatsMixin,
    SlosMixin,
    KeysMixin,
    RunnersMixin,
    IncidentsMixin,
    OutboxMixin,
    DomainsMixin,
    AccessMixin,
    AppearanceMixin,
    GroupsMixin,
):
    async def close(self) -> None:
        await self._engine.dispose()

    async def ping(self) -> None:
        async with self._engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))


async def open_store(
    url: str, *, migrate: bool = True, keyring: Keyring | None = None, pgbouncer: bool = False
) -> SqlStore:
    """Connect to ``url`` and (by default) bring its schema to the newest migration.

    With a ``keyring`` (``security.secrets.load_or_create_keyring(settings)``) monitor secrets
    are sealed at rest: this checks that every stored data key is wrapped under a known master
    key (else raises ``SecretError``), then seals the secrets still stored in plaintext.
    Without one, secrets are written in plaintext and sealed ones cannot be read.
    ``pgbouncer``: ``url`` is PgBouncer in transaction pooling mode (see ``create_engine``).
    """
    engine = create_engine(url, pgbouncer=pgbouncer)
    try:
        if migrate:
            await upgrade(engine)
        store = SqlStore(engine, keyring=keyring)
        if keyring is not None:
            await store.check_master_keys()
            await store.seal_plaintext()
    except BaseException:
        await engine.dispose()
        raise
    return store
