"""``statpulse secrets``: key files and a full master-key rotation on a SQLite data dir."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from statpulse.model import HttpOptions, MonitorConfig
from statpulse.security.secrets import (
    Keyring,
    MasterKey,
    SecretError,
    load_or_create_keyring,
    read_key_file,
    write_key_file,
)
from statpulse.security.secrets_cli import secrets_app
from statpulse.settings import load_settings
from statpulse.store.sql import open_store

runner = CliRunner()
CONFIG = MonitorConfig(
    name="api",
    kind="http",
    target="https://example.com/",
    http=HttpOptions(headers={"Authorization": "Bearer s3cr3t"}),
)


def db_of(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'statpulse.db'}"


async def seed(data_dir: Path) -> None:
    """A monitor with a secret, sealed under the auto-created <data_dir>/master.key."""
    keyring = load_or_create_keyring(load_settings(data_dir=data_dir))
    store = await open_store(db_of(data_dir), keyring=keyring)
    try:
        org = await store.create_org("acme", "Acme")
        await store.create_monitor(org.id, CONFIG)
    finally:
        await store.close()


async def headers_with(data_dir: Path, keyring: Keyring) -> list[dict[str, str]]:
    store = await open_store(db_of(data_dir), keyring=keyring)
    try:
        org = await store.get_org_by_slug("acme")
        assert org is not None
        return [dict(m.config.http.headers) for m in await store.list_monitors(org.id)]
    finally:
        await store.close()


def test_new_key_writes_a_private_file_and_never_overwrites(tmp_path: Path) -> None:
    out = tmp_path / "new.key"
    result = runner.invoke(secrets_app, ["new-key", "--out", str(out)])
    assert result.exit_code == 0, result.output
    keyring = read_key_file(out)
    assert keyring.old == () and f"current master key {keyring.current.id}" in result.output
    assert keyring.current.to_base64() not in result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600

    again = runner.invoke(secrets_app, ["new-key", "--out", str(out)])
    assert again.exit_code == 2 and "never overwritten" in again.output
    assert read_key_file(out) == keyring


def test_new_key_keep_current_needs_a_configured_key(tmp_path: Path) -> None:
    result = runner.invoke(
        secrets_app,
        ["new-key", "--out", str(tmp_path / "k"), "--keep-current", "--data-dir", str(tmp_path)],
    )
    assert result.exit_code == 2 and "--keep-current" in result.output


def test_rotation_end_to_end_keeps_secrets_readable_with_new_keys_only(tmp_path: Path) -> None:
    data = tmp_path / "data"
    asyncio.run(seed(data))
    old = read_key_file(data / "master.key")
    both = tmp_path / "both.key"

    made = runner.invoke(
        secrets_app, ["new-key", "--out", str(both), "--keep-current", "--data-dir", str(data)]
    )
    assert made.exit_code == 0, made.output
    new = read_key_file(both)
    assert new.old == (old.current,)

    rotated = runner.invoke(
        secrets_app, ["rotate", "--new-key-file", str(both), "--data-dir", str(data)]
    )
    assert rotated.exit_code == 0, rotated.output
    assert f"re-wrapped 1 data key(s) of 1 organisation(s) under master key {new.current.id}" in (
        rotated.output
    )

    expected = [{"Authorization": "Bearer s3cr3t"}]
    assert asyncio.run(headers_with(data, new)) == expected  # new + old (restart window)
    assert asyncio.run(headers_with(data, Keyring(new.current))) == expected  # new only
    with pytest.raises(SecretError, match=new.current.id):
        asyncio.run(headers_with(data, old))  # old only: refused at start, loudly

    # Run again once every process restarted on the new file: nothing is left to re-wrap.
    settings = ["--data-dir", str(data)]
    again = runner.invoke(secrets_app, ["rotate", "--new-key-file", str(both), *settings])
    assert again.exit_code == 0 and "re-wrapped 0 data key(s)" in again.output


def test_rotate_without_the_old_key_fails_naming_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    asyncio.run(seed(data))
    old = read_key_file(data / "master.key")
    (data / "master.key").unlink()  # the configured key is lost
    lost = tmp_path / "other.key"
    write_key_file(lost, Keyring(MasterKey.generate()))
    result = runner.invoke(
        secrets_app, ["rotate", "--new-key-file", str(lost), "--data-dir", str(data)]
    )
    assert result.exit_code == 1 and old.current.id in result.output


def test_rotate_names_a_bad_key_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.key"
    bad.write_text("not a key\n")
    result = runner.invoke(
        secrets_app, ["rotate", "--new-key-file", str(bad), "--data-dir", str(tmp_path)]
    )
    assert result.exit_code == 2 and "--new-key-file" in result.output
