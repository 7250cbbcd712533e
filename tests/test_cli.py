"""The command line: API keys, migrations and clear errors for bad input."""

from __future__ import annotations

import asyncio
from pathlib import Path

from typer.testing import CliRunner

from statpulse.cli import app
from statpulse.security import apikeys
from statpulse.store.sql import open_store

runner = CliRunner()


def test_apikey_create_prints_the_key_last_and_stores_only_its_hash(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    result = runner.invoke(
        app, ["apikey", "create", "--org", "acme", "--scope", "read", "--db", db]
    )
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[-1]
    prefix = apikeys.prefix_of(token)
    assert prefix is not None

    async def lookup() -> tuple[str, str]:
        store = await open_store(db)
        try:
            found = await store.find_api_key(prefix)
            assert found is not None
            org = await store.get_org_by_slug("acme")
            assert org is not None and found[0].org_id == org.id
            return found[0].scope.value, found[1]
        finally:
            await store.close()

    scope, stored = asyncio.run(lookup())
    assert scope == "read"
    assert token not in stored and apikeys.matches(token, stored)


def test_apikey_create_finds_the_data_dir_database(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["apikey", "create", "--org", "acme", "--data-dir", str(tmp_path / "d")]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "d" / "statpulse.db").is_file()


def test_a_bad_org_slug_exits_2_naming_the_option(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["apikey", "create", "--org", "Not A Slug", "--data-dir", str(tmp_path)]
    )
    assert result.exit_code == 2 and "--org" in result.output


def test_an_unsupported_database_url_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["migrate", "--db", "mysql://root@localhost/x"])
    assert result.exit_code == 2 and "unsupported database" in result.output


def test_a_missing_settings_file_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["migrate", "--config", str(tmp_path / "none.toml")])
    assert result.exit_code == 2 and "settings file not found" in result.output


def test_an_invalid_setting_names_it(tmp_path: Path) -> None:
    config = tmp_path / "statpulse.toml"
    config.write_text('port = "eighty"\n')
    result = runner.invoke(app, ["migrate", "--config", str(config)])
    assert result.exit_code == 2 and "port" in result.output


def test_migrate_creates_the_schema(tmp_path: Path) -> None:
    result = runner.invoke(app, ["migrate", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "statpulse.db").is_file()
