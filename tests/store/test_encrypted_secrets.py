"""Monitor secrets sealed at rest, on SQLite and PostgreSQL: callers see plaintext, the database
holds only ``sp1:`` values, and every failure to open one is loud and names the field."""

from __future__ import annotations

import subprocess
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from statpulse.model import GrpcOptions, HttpOptions, MonitorConfig
from statpulse.security.secrets import Keyring, MasterKey, SecretError
from statpulse.store import schema as t
from statpulse.store.sql import SqlStore, open_store
from tests.conftest import drop_pg_database, fresh_pg_database

OLD = Keyring(MasterKey.generate())
NEW = Keyring(MasterKey.generate())
TOKEN = "Bearer s3cr3t-token-XYZ"
CLIENT_KEY = (
    ec.generate_private_key(ec.SECP256R1())
    .private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    .decode()
)
# The PEM's base64 body, one line: what a dump would show if the key were stored in clear.
KEY_MARKER = CLIENT_KEY.splitlines()[1]


def secret_config(name: str = "billing-api") -> MonitorConfig:
    return MonitorConfig(
        name=name,
        kind="http",
        target="https://billing.example.com/health",
        http=HttpOptions(
            headers={"Authorization": TOKEN, "Accept": "application/json"},
            body='{"ping": true}',
            client_cert="-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
            client_key=CLIENT_KEY,
        ),
        grpc=GrpcOptions(metadata={"x-api-key": "grpc-s3cr3t"}),
    )


def url_of(store: SqlStore) -> str:
    return store.engine.url.render_as_string(hide_password=False)


@pytest.fixture
def keyed(store: SqlStore) -> SqlStore:
    """The ``store`` database opened with the OLD master key (same engine; ``store`` closes it)."""
    return SqlStore(store.engine, keyring=OLD)


async def raw_columns(store: SqlStore, monitor_id: uuid.UUID) -> tuple[Any, Any]:
    async with store.engine.connect() as conn:
        row = (
            await conn.execute(
                sa.select(t.monitors.c.http, t.monitors.c.options).where(
                    t.monitors.c.id == monitor_id
                )
            )
        ).one()
    return row.http, row.options


async def write_raw(store: SqlStore, monitor_id: uuid.UUID, http: Any) -> None:
    async with store.engine.begin() as conn:
        await conn.execute(
            t.monitors.update().where(t.monitors.c.id == monitor_id).values(http=http)
        )


async def test_secrets_round_trip_through_create_get_update_and_lists(keyed: SqlStore) -> None:
    org = await keyed.create_org("acme", "Acme")
    created = await keyed.create_monitor(org.id, secret_config())
    assert created.config == secret_config()
    fetched = await keyed.get_monitor(org.id, created.id)
    assert fetched is not None and fetched.config == secret_config()

    changed = replace(
        secret_config(),
        http=replace(secret_config().http, headers={"Authorization": "Bearer rotated"}),
    )
    updated = await keyed.update_monitor(org.id, created.id, changed)
    assert updated is not None and updated.config == changed
    assert [m.config for m in await keyed.list_monitors(org.id)] == [changed]
    assert [m.config for m in await keyed.monitors_for_region("local")] == [changed]
    assert (await keyed.monitors_by_id([created.id]))[created.id].config == changed


async def test_the_database_holds_only_sealed_secret_values(keyed: SqlStore) -> None:
    org = await keyed.create_org("acme", "Acme")
    monitor = await keyed.create_monitor(org.id, secret_config())
    http, options = await raw_columns(keyed, monitor.id)
    assert http["headers"]["Authorization"].startswith("sp1:")
    assert http["headers"]["Accept"].startswith("sp1:")  # every header value: no guessing
    assert http["client_key"].startswith("sp1:")
    assert options["grpc"]["metadata"]["x-api-key"].startswith("sp1:")
    assert http["body"] == '{"ping": true}' and http["client_cert"].startswith("-----BEGIN")
    raw = repr((http, options))
    for plaintext in ("s3cr3t", KEY_MARKER, "application/json"):
        assert plaintext not in raw


async def test_a_monitor_without_secrets_creates_no_data_key(keyed: SqlStore) -> None:
    org = await keyed.create_org("acme", "Acme")
    await keyed.create_monitor(org.id, MonitorConfig(name="plain", kind="tcp", target="db:5432"))
    assert await keyed.load_data_keys(org.id) == []


async def test_organisations_get_their_own_data_keys(keyed: SqlStore) -> None:
    acme = await keyed.create_org("acme", "Acme")
    beta = await keyed.create_org("beta", "Beta")
    await keyed.create_monitor(acme.id, secret_config())
    await keyed.create_monitor(acme.id, secret_config("second"))
    await keyed.create_monitor(beta.id, secret_config())
    acme_keys, beta_keys = await keyed.load_data_keys(acme.id), await keyed.load_data_keys(beta.id)
    assert len(acme_keys) == 1 and len(beta_keys) == 1
    assert acme_keys[0].key_id != beta_keys[0].key_id
    assert acme_keys[0].master_key_id == OLD.current.id


async def test_one_altered_byte_fails_loudly_naming_the_field(keyed: SqlStore) -> None:
    org = await keyed.create_org("acme", "Acme")
    monitor = await keyed.create_monitor(org.id, secret_config())
    http, _ = await raw_columns(keyed, monitor.id)
    sealed = http["headers"]["Authorization"]
    i = len(sealed) - 20
    http["headers"]["Authorization"] = (
        sealed[:i] + ("A" if sealed[i] != "A" else "B") + sealed[i + 1 :]
    )
    await write_raw(keyed, monitor.id, http)

    fresh = SqlStore(keyed.engine, keyring=OLD)  # no cached data key either
    with pytest.raises(SecretError) as err:
        await fresh.get_monitor(org.id, monitor.id)
    assert err.value.path == f"monitor:{monitor.id}:http.headers.Authorization"
    assert "s3cr3t" not in str(err.value)


async def test_a_value_moved_to_another_field_fails_naming_that_field(keyed: SqlStore) -> None:
    org = await keyed.create_org("acme", "Acme")
    monitor = await keyed.create_monitor(org.id, secret_config())
    http, _ = await raw_columns(keyed, monitor.id)
    http["headers"]["Accept"] = http["headers"]["Authorization"]
    await write_raw(keyed, monitor.id, http)
    with pytest.raises(SecretError) as err:
        await keyed.get_monitor(org.id, monitor.id)
    assert err.value.path == f"monitor:{monitor.id}:http.headers.Accept"


async def test_a_value_copied_into_another_organisation_does_not_open(keyed: SqlStore) -> None:
    acme = await keyed.create_org("acme", "Acme")
    beta = await keyed.create_org("beta", "Beta")
    theirs = await keyed.create_monitor(acme.id, secret_config())
    ours = await keyed.create_monitor(beta.id, secret_config())
    stolen, _ = await raw_columns(keyed, theirs.id)
    http, _ = await raw_columns(keyed, ours.id)
    http["client_key"] = stolen["client_key"]
    await write_raw(keyed, ours.id, http)
    with pytest.raises(SecretError) as err:
        await keyed.get_monitor(beta.id, ours.id)
    assert err.value.path == f"monitor:{ours.id}:http.client_key"


async def test_a_store_without_master_keys_refuses_sealed_values(
    keyed: SqlStore, store: SqlStore
) -> None:
    org = await keyed.create_org("acme", "Acme")
    monitor = await keyed.create_monitor(org.id, secret_config())
    with pytest.raises(SecretError, match="without master keys"):
        await store.get_monitor(org.id, monitor.id)


async def test_opening_with_keys_seals_plaintext_written_before_once(store: SqlStore) -> None:
    org = await store.create_org("acme", "Acme")
    monitor = await store.create_monitor(org.id, secret_config())  # no keys: plaintext
    http, _ = await raw_columns(store, monitor.id)
    assert http["headers"]["Authorization"] == TOKEN

    keyed = await open_store(url_of(store), migrate=False, keyring=OLD)
    try:
        http, options = await raw_columns(keyed, monitor.id)
        assert http["headers"]["Authorization"].startswith("sp1:")
        assert options["grpc"]["metadata"]["x-api-key"].startswith("sp1:")
        assert await keyed.seal_plaintext() == 0  # idempotent: sealed values are skipped
        assert await raw_columns(keyed, monitor.id) == (http, options)
        fetched = await keyed.get_monitor(org.id, monitor.id)
        assert fetched is not None and fetched.config == secret_config()
    finally:
        await keyed.close()


async def test_rotation_rewraps_data_keys_and_leaves_sealed_values_alone(
    keyed: SqlStore,
) -> None:
    acme = await keyed.create_org("acme", "Acme")
    beta = await keyed.create_org("beta", "Beta")
    a = await keyed.create_monitor(acme.id, secret_config())
    await keyed.create_monitor(beta.id, secret_config())
    before_keys = await keyed.load_data_keys(acme.id)
    before_values = await raw_columns(keyed, a.id)

    rotating = SqlStore(keyed.engine, keyring=OLD.rotated_to(NEW))
    done = await rotating.rewrap_data_keys()
    assert (done.master_key_id, done.orgs, done.keys) == (NEW.current.id, 2, 2)
    assert (await rotating.rewrap_data_keys()).keys == 0  # idempotent

    after_keys = await keyed.load_data_keys(acme.id)
    assert [k.master_key_id for k in after_keys] == [NEW.current.id]
    assert after_keys[0].key_id == before_keys[0].key_id
    assert after_keys[0].wrapped != before_keys[0].wrapped
    assert await raw_columns(keyed, a.id) == before_values

    assert (await keyed.get_monitor(acme.id, a.id)) is not None  # a running process: cached
    for keyring in (NEW.rotated_to(OLD), NEW):
        reopened = SqlStore(keyed.engine, keyring=keyring)
        await reopened.check_master_keys()
        fetched = await reopened.get_monitor(acme.id, a.id)
        assert fetched is not None and fetched.config == secret_config()


async def test_after_rotation_the_old_key_alone_fails_loudly(keyed: SqlStore) -> None:
    org = await keyed.create_org("acme", "Acme")
    monitor = await keyed.create_monitor(org.id, secret_config())
    await SqlStore(keyed.engine, keyring=OLD.rotated_to(NEW)).rewrap_data_keys()

    with pytest.raises(SecretError) as err:
        await open_store(url_of(keyed), migrate=False, keyring=OLD)
    assert NEW.current.id in str(err.value) and OLD.current.id in str(err.value)

    stale = SqlStore(keyed.engine, keyring=OLD)  # a process that skipped the start check
    with pytest.raises(SecretError) as read_err:
        await stale.get_monitor(org.id, monitor.id)
    assert read_err.value.path is not None and read_err.value.path.startswith(
        f"monitor:{monitor.id}:"
    )


async def test_before_rotation_the_new_key_alone_is_refused_at_open(keyed: SqlStore) -> None:
    org = await keyed.create_org("acme", "Acme")
    await keyed.create_monitor(org.id, secret_config())
    with pytest.raises(SecretError, match=OLD.current.id):
        await open_store(url_of(keyed), migrate=False, keyring=NEW)


async def test_deleting_an_organisation_deletes_its_data_keys(keyed: SqlStore) -> None:
    org = await keyed.create_org("acme", "Acme")
    await keyed.create_monitor(org.id, secret_config())
    async with keyed.engine.begin() as conn:
        await conn.execute(t.organizations.delete().where(t.organizations.c.id == org.id))
    assert await keyed.load_data_keys(org.id) == []


def assert_no_plaintext(data: bytes) -> None:
    assert b"billing-api" in data  # the monitor is there ...
    for plaintext in (b"s3cr3t-token-XYZ", KEY_MARKER.encode(), b"grpc-s3cr3t"):
        assert plaintext not in data  # ... its secrets are not


@pytest.mark.postgres
async def test_a_pg_dump_holds_no_plaintext_secret(pg_server_url: str, tmp_path: Path) -> None:
    url, name = fresh_pg_database(pg_server_url)
    try:
        store = await open_store(url, keyring=OLD)
        try:
            org = await store.create_org("acme", "Acme")
            await store.create_monitor(org.id, secret_config())
        finally:
            await store.close()
        dump = subprocess.run(
            ["pg_dump", "--no-owner", url], capture_output=True, check=True, timeout=60
        ).stdout
        assert_no_plaintext(dump)
    finally:
        drop_pg_database(pg_server_url, name)


async def test_the_sqlite_file_holds_no_plaintext_secret(tmp_path: Path) -> None:
    path = tmp_path / "statpulse.db"
    store = await open_store(f"sqlite:///{path}", keyring=OLD)
    try:
        org = await store.create_org("acme", "Acme")
        monitor = await store.create_monitor(org.id, secret_config())
        changed = replace(secret_config(), interval_s=30)
        await store.update_monitor(org.id, monitor.id, changed)
        async with store.engine.connect() as conn:
            await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        await store.close()
    data = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith(path.name))
    assert_no_plaintext(data)
