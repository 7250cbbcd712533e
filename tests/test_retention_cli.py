"""``statpulse retention`` then ``statpulse archive query``: old raw results leave the database
for the Parquet archive and are read back from it, on a real SQLite file."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from statpulse.cli import app
from statpulse.model import MonitorConfig, utcnow
from statpulse.store.sql import open_store
from tests.store.test_contract import result

runner = CliRunner()


async def seed(db: str) -> tuple[str, int]:
    """One result an hour over the last 5 days; returns the monitor id and the count older
    than the 3 most recent whole days' horizon."""
    store = await open_store(db)
    try:
        org = await store.create_org("acme", "Acme")
        config = MonitorConfig(name="api", kind="http", target="https://x.test", interval_s=60)
        mid = (await store.create_monitor(org.id, config)).id
        now = utcnow()
        start = (now - timedelta(days=5)).replace(minute=0, second=0, microsecond=0)
        times = [start + timedelta(hours=h) for h in range(5 * 24)]
        await store.add_results([result(mid, when) for when in times])
        horizon = (now - timedelta(days=3)).date()
        old = sum(1 for when in times if when.date() < horizon)
        return str(mid), old
    finally:
        await store.close()


def test_retention_archives_and_archive_query_reads_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = f"sqlite:///{tmp_path / 'statpulse.db'}"
    archive = tmp_path / "archive"
    mid, old = asyncio.run(seed(db))
    monkeypatch.setenv("STATPULSE_ARCHIVE_URL", str(archive))
    monkeypatch.setenv("STATPULSE_RETENTION_RAW_DAYS", "3")

    ran = runner.invoke(app, ["retention", "--db", db])
    assert ran.exit_code == 0, ran.output
    assert "raw results expired, archived to" in ran.output

    since = (datetime.now(UTC) - timedelta(days=6)).date().isoformat()
    until = datetime.now(UTC).isoformat()
    read = runner.invoke(
        app, ["archive", "query", mid, "--from", since, "--to", until, "--format", "json"]
    )
    assert read.exit_code == 0, read.output
    rows = [json.loads(line) for line in read.stdout.splitlines() if line.startswith("{")]
    assert len(rows) == old > 0
    assert {row["monitor_id"] for row in rows} == {mid}

    again = runner.invoke(app, ["retention", "--db", db])
    assert again.exit_code == 0, again.output
    assert "expired" not in again.output


def test_a_bad_archive_url_names_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STATPULSE_ARCHIVE_URL", "ftp://example.com/archive")
    ran = runner.invoke(app, ["retention", "--db", f"sqlite:///{tmp_path / 'x.db'}"])
    assert ran.exit_code == 2
    assert "archive_url" in ran.output
