"""Organisation data keys (``org_data_keys``) and the sealing of monitor secrets at rest.

A store opened with a ``Keyring`` seals the secret fields of a monitor when it writes them and
opens them when it reads, so callers only ever see plaintext ``MonitorConfig``s. The secret
fields are ``SECRET_FIELDS``: header and gRPC metadata values (they carry credentials) and the
client certificate's private key. Bodies, certificates and header names are not secret.

Opened without a keyring (tests, tools that never touch secrets) the store writes plaintext and
refuses, loudly, to return a sealed value.
"""

from __future__ import annotations

import copy
import dataclasses
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from statpulse.model import GrpcOptions, HttpOptions, Monitor, MonitorConfig
from statpulse.security.secrets import (
    Keyring,
    SecretBox,
    SecretError,
    WrappedDataKey,
    is_sealed,
)
from statpulse.store import schema as t
from statpulse.store.sql_base import SqlBase

log = structlog.get_logger(__name__)

SECRET_FIELDS: dict[str, tuple[str, ...]] = {
    "http": ("headers", "client_key"),
    "grpc": ("metadata",),
}
"""Secret fields per options section: a string is one secret, a mapping's values are secrets
(path ``<section>.<field>.<name>``)."""

Sections = dict[str, dict[str, Any]]
"""Options documents by section name (``{"http": {...}, "grpc": {...}}``), edited in place."""

Transform = Callable[[str, str], Awaitable[str]]


@dataclass(frozen=True, slots=True)
class Rewrapped:
    """What ``rewrap_data_keys`` did: data keys moved under ``master_key_id``."""

    master_key_id: str
    orgs: int
    keys: int


def monitor_path(monitor_id: uuid.UUID, field: str) -> str:
    """The associated-data path of a monitor's secret field (``monitor:<id>:http.client_key``)."""
    return f"monitor:{monitor_id}:{field}"


async def _transform(sections: Sections, fn: Transform) -> bool:
    """Apply ``fn(field_path, value)`` to every secret string in ``sections``; True when any."""
    found = False
    for section, names in SECRET_FIELDS.items():
        doc = sections.get(section)
        if not doc:
            continue
        for name in names:
            value = doc.get(name)
            if isinstance(value, str):
                doc[name] = await fn(f"{section}.{name}", value)
                found = True
            elif isinstance(value, Mapping) and value:
                doc[name] = {
                    k: await fn(f"{section}.{name}.{k}", v) if isinstance(v, str) else v
                    for k, v in value.items()
                }
                found = True
    return found


def _documents(config: MonitorConfig) -> Sections:
    return {
        "http": {f.name: getattr(config.http, f.name) for f in dataclasses.fields(HttpOptions)},
        "grpc": {f.name: getattr(config.grpc, f.name) for f in dataclasses.fields(GrpcOptions)},
    }


def _has_secrets(config: MonitorConfig) -> bool:
    return bool(config.http.headers or config.http.client_key is not None or config.grpc.metadata)


class KeysMixin(SqlBase):
    def __init__(self, engine: AsyncEngine, *, keyring: Keyring | None = None) -> None:
        super().__init__(engine)
        self._secrets = SecretBox(keyring, self) if keyring is not None else None

    @property
    def secrets(self) -> SecretBox | None:
        """Seals and opens secrets of this store's organisations (None: opened without keys)."""
        return self._secrets

    # -- DataKeyStore ------------------------------------------------------------------------

    async def load_data_keys(self, org_id: uuid.UUID) -> list[WrappedDataKey]:
        k = t.org_data_keys.c
        query = (
            sa.select(t.org_data_keys).where(k.org_id == org_id).order_by(k.created_at, k.key_id)
        )
        return [_wrapped(row) for row in await self._all(query)]

    async def insert_data_key(self, key: WrappedDataKey) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(t.org_data_keys.insert().values(**dataclasses.asdict(key)))
        log.info("secrets.data_key_created", org_id=str(key.org_id), key_id=key.key_id)

    # -- master keys -------------------------------------------------------------------------

    async def check_master_keys(self) -> None:
        """Raise SecretError when some data key is wrapped under a master key this store was
        not given: failing at start beats failing on every read of a secret later."""
        keyring = self._keyring("check master keys")
        query = sa.select(t.org_data_keys.c.master_key_id).distinct()
        unknown = sorted(set(await self._scalars(query)) - set(keyring.ids))
        if unknown:
            raise SecretError(
                f"data keys in this database are wrapped under master key(s) "
                f"{', '.join(unknown)}, which are not configured (configured: "
                f"{', '.join(keyring.ids)}); set master_key or master_key_file to the key file "
                "that holds them"
            )

    async def rewrap_data_keys(self) -> Rewrapped:
        """Re-wrap every data key not under the current master key, one transaction per
        organisation. The data keys themselves, and so every sealed value, stay the same.
        Idempotent: run it again to catch keys that processes still on the old key created
        meanwhile. Raises SecretError when a data key does not unwrap under any known key
        (the organisations done before stay done)."""
        keyring = self._keyring("rotate")
        k = t.org_data_keys.c
        stale = k.master_key_id != keyring.current.id
        org_ids = await self._scalars(sa.select(k.org_id).where(stale).distinct())
        keys = 0
        for org_id in org_ids:
            async with self._engine.begin() as conn:
                query = sa.select(t.org_data_keys).where(stale, k.org_id == org_id)
                rows = (await conn.execute(query.with_for_update())).all()
                for row in map(_wrapped, rows):
                    fresh = keyring.wrap(org_id, row.key_id, keyring.unwrap(row))
                    await conn.execute(
                        t.org_data_keys.update()
                        .where(k.org_id == org_id, k.key_id == row.key_id)
                        .values(wrapped=fresh.wrapped, master_key_id=fresh.master_key_id)
                    )
                keys += len(rows)
            log.info("secrets.rewrapped", org_id=str(org_id), keys=len(rows))
        return Rewrapped(keyring.current.id, len(org_ids), keys)

    # -- monitor secrets ---------------------------------------------------------------------

    async def _seal_monitor_documents(
        self, org_id: uuid.UUID, monitor_id: uuid.UUID, http: dict[str, Any], options: Any
    ) -> None:
        """Seal, in place, the secrets of a monitor's ``http`` and ``options`` column values."""
        box = self._secrets
        if box is None:
            return

        async def seal(field: str, value: str) -> str:
            return await box.seal(org_id, monitor_path(monitor_id, field), value)

        await _transform({"http": http, "grpc": options.get("grpc") or {}}, seal)

    async def _open_monitor(self, monitor: Monitor) -> Monitor:
        """``monitor`` with its secrets opened. Raises SecretError naming the field."""
        config = monitor.config
        if not _has_secrets(config):
            return monitor
        box = self._secrets

        async def open_(field: str, value: str) -> str:
            path = monitor_path(monitor.id, field)
            if not is_sealed(value):
                return value  # written before 0008 or without keys; seal_plaintext seals it
            if box is None:
                raise SecretError("sealed, but the store was opened without master keys", path=path)
            return await box.open(monitor.org_id, path, value)

        docs = _documents(config)
        await _transform(docs, open_)
        opened = dataclasses.replace(
            config, http=HttpOptions(**docs["http"]), grpc=GrpcOptions(**docs["grpc"])
        )
        return dataclasses.replace(monitor, config=opened)

    async def seal_plaintext(self) -> int:
        """Seal the secrets still stored in plaintext (written before migration 0008, or by a
        process without keys); values already sealed are left alone. Returns how many monitors
        changed. A monitor edited meanwhile is skipped (its writer sealed it, or the next run
        will). Note that databases keep old row versions until vacuumed."""
        box = self._secrets
        if box is None:
            return 0
        m = t.monitors.c
        rows = await self._all(sa.select(m.id, m.org_id, m.http, m.options, m.updated_at))
        changed = 0
        for row in rows:
            http, options = copy.deepcopy(row.http), copy.deepcopy(row.options or {})

            async def seal(field: str, value: str, row: Any = row) -> str:
                if is_sealed(value):
                    return value
                return await box.seal(row.org_id, monitor_path(row.id, field), value)

            before = (row.http, row.options or {})
            await _transform({"http": http, "grpc": options.get("grpc") or {}}, seal)
            if (http, options) == before:
                continue
            async with self._engine.begin() as conn:
                result = await conn.execute(
                    t.monitors.update()
                    .where(m.id == row.id, m.updated_at == row.updated_at)
                    .values(http=http, options=options)
                )
            changed += result.rowcount
        if changed:
            log.info("secrets.sealed_plaintext", monitors=changed)
        return changed

    def _keyring(self, action: str) -> Keyring:
        if self._secrets is None:
            raise SecretError(f"cannot {action}: the store was opened without master keys")
        return self._secrets.keyring

    async def _scalars(self, query: sa.Select[Any]) -> list[Any]:
        async with self._engine.connect() as conn:
            return list((await conn.execute(query)).scalars())


def _wrapped(row: sa.Row[Any]) -> WrappedDataKey:
    return WrappedDataKey(
        org_id=row.org_id,
        key_id=row.key_id,
        wrapped=bytes(row.wrapped),
        master_key_id=row.master_key_id,
        created_at=row.created_at,
    )
