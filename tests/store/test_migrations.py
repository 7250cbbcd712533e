"""Migrations build the schema from empty, on SQLite and PostgreSQL, exactly as schema.py says."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from statpulse.store.engine import create_engine
from statpulse.store.migrate import current_revision, head_revision, upgrade
from statpulse.store.partitions import include_name
from statpulse.store.schema import metadata
from tests.conftest import drop_pg_database, fresh_pg_database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    server = request.getfixturevalue("pg_server_url")
    url, name = fresh_pg_database(server)
    yield url
    drop_pg_database(server, name)


async def test_migrations_run_from_empty_to_head(empty_database: str) -> None:
    engine = create_engine(empty_database)
    try:
        assert await current_revision(engine) is None
        await upgrade(engine)
        assert await current_revision(engine) == head_revision()
        await upgrade(engine)  # a second run is a no-op
        assert await current_revision(engine) == head_revision()
    finally:
        await engine.dispose()


async def test_migrated_schema_matches_the_declared_schema(empty_database: str) -> None:
    engine = create_engine(empty_database)

    def diff(connection: Connection) -> list[object]:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_name": include_name}
        )
        return list(compare_metadata(context, metadata))

    try:
        await upgrade(engine)
        async with engine.connect() as conn:
            assert await conn.run_sync(diff) == []
    finally:
        await engine.dispose()
