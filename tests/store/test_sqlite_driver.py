"""The SQLite adapter (``store/sqlite_driver.py``): one trip to the connection's thread per
statement, and the DBAPI behaviour SQLAlchemy relies on (rows, rowcount, RETURNING, errors,
transactions)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from statpulse.store.engine import create_engine

ITEMS = sa.Table(
    "items",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String, unique=True, nullable=False),
)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'driver.db'}")
    async with engine.begin() as conn:
        await conn.run_sync(ITEMS.metadata.create_all)
    try:
        yield engine
    finally:
        await engine.dispose()


async def _names(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        return list((await conn.execute(sa.select(ITEMS.c.name).order_by(ITEMS.c.id))).scalars())


async def test_rows_rowcount_and_returning(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(ITEMS.insert(), [{"name": n} for n in ("a", "b", "c")])
        updated = await conn.execute(
            ITEMS.update().where(ITEMS.c.name != "a").values(name=ITEMS.c.name + "!")
        )
        assert updated.rowcount == 2
        returned = await conn.execute(
            ITEMS.insert().values(name="d").returning(ITEMS.c.id, ITEMS.c.name)
        )
        assert [tuple(r) for r in returned] == [(4, "d")]
        inserted = await conn.execute(ITEMS.insert().values(name="e"))
        assert inserted.inserted_primary_key == (5,)
    assert await _names(engine) == ["a", "b!", "c!", "d", "e"]


async def test_a_failed_transaction_leaves_nothing(engine: AsyncEngine) -> None:
    async def twice() -> None:
        async with engine.begin() as conn:
            await conn.execute(ITEMS.insert().values(name="a"))
            await conn.execute(ITEMS.insert().values(name="a"))

    with pytest.raises(sa.exc.IntegrityError):
        await twice()
    assert await _names(engine) == []


async def test_an_uncommitted_write_is_rolled_back_when_the_connection_returns(
    engine: AsyncEngine,
) -> None:
    async with engine.connect() as conn:
        await conn.execute(ITEMS.insert().values(name="a"))
    assert await _names(engine) == []


async def test_a_statement_is_one_trip_to_the_thread_and_a_read_needs_no_rollback(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _names(engine)  # the pool holds a connection, pragmas done
    trips = 0
    execute = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal trips
        trips += 1
        return await execute(self, fn, *args, **kwargs)  # type: ignore[no-untyped-call]

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    await _names(engine)
    assert trips == 1  # SQLAlchemy's aiosqlite adapter: cursor, execute, fetch, close, rollback
    trips = 0
    async with engine.begin() as conn:
        await conn.execute(ITEMS.insert().values(name="a"))
    assert trips == 2  # the statement and the commit
