"""Shared fixtures: a store on SQLite, on PostgreSQL and on PostgreSQL through PgBouncer in
transaction pooling mode (the same tests run on all three).

PostgreSQL: ``STATPULSE_TEST_POSTGRES_URL`` (default postgresql://postgres@127.0.0.1:5432/test).
Each session (each pytest-xdist worker of ``make test``) creates a throwaway database next to
it (the user needs CREATEDB) and drops it at the end. When the server is unreachable the
PostgreSQL tests are skipped with a loud reason, except in CI (``CI=true``), where they fail.

PgBouncer: the session starts Debian's ``pgbouncer`` (``make test-deps``) in front of a second
throwaway database (tests/pgbouncer.py), migrated directly on PostgreSQL as a deployment would
(migrations run once, on a direct connection). A missing binary skips the PgBouncer tests
loudly, except in CI, where it fails.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import sqlalchemy as sa

from statpulse.store import schema
from statpulse.store.engine import create_engine
from statpulse.store.migrate import upgrade
from statpulse.store.sql import SqlStore, open_store
from tests.pgbouncer import PgBouncer, find_pgbouncer, start_pgbouncer

pytest_plugins = ["tests.hang_dump"]

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
PG_URL = os.environ.get("STATPULSE_TEST_POSTGRES_URL", DEFAULT_PG)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

_pg_outcomes: dict[str, int] = {}
_pg_unreachable: list[str] = []

PGBOUNCER_POOL_SIZE = 3
"""Server connections per PgBouncer pool: fewer than the engine's clients, so they are shared."""


def _asyncpg_dsn(url: str) -> str:
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _blocking(factory: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run a coroutine to completion on its own loop in a thread: session fixtures may be
    first requested from inside a running test loop."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(lambda: asyncio.run(factory())).result()


def _admin(dsn: str, sql: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(dsn, timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    _blocking(run)


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    """The configured PostgreSQL URL, once it answered; skips (or fails in CI) otherwise."""
    try:
        _admin(_asyncpg_dsn(PG_URL), "SELECT 1")
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        reason = f"PostgreSQL unreachable at {PG_URL} ({exc!r}); set STATPULSE_TEST_POSTGRES_URL"
        if IN_CI:
            pytest.fail(f"CI=true and {reason}", pytrace=False)
        _pg_unreachable.append(reason)
        pytest.skip(f"SKIPPING POSTGRESQL TESTS: {reason}")
    return PG_URL


def fresh_pg_database(server_url: str) -> tuple[str, str]:
    """Create an empty database next to ``server_url``; returns (url, name)."""
    name = f"statpulse_test_{secrets.token_hex(4)}"
    _admin(_asyncpg_dsn(server_url), f'CREATE DATABASE "{name}"')
    return sa.make_url(server_url).set(database=name).render_as_string(False), name


def drop_pg_database(server_url: str, name: str) -> None:
    _admin(_asyncpg_dsn(server_url), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _migrated_pg_database(server_url: str) -> tuple[str, str]:
    url, name = fresh_pg_database(server_url)

    async def migrate() -> None:
        engine = create_engine(url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    _blocking(migrate)
    return url, name


@pytest.fixture(scope="session")
def pg_url(pg_server_url: str) -> Iterator[str]:
    """A migrated throwaway database for this test session."""
    url, name = _migrated_pg_database(pg_server_url)
    yield url
    drop_pg_database(pg_server_url, name)


@pytest.fixture(scope="session")
def pgbouncer(pg_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgBouncer]:
    """PgBouncer (transaction pooling, ``PGBOUNCER_POOL_SIZE`` server connections) in front of
    its own migrated throwaway database, aliased ``statpulse``; skips (or fails in CI) when
    pgbouncer is not installed."""
    binary = find_pgbouncer()
    if binary is None:
        reason = "pgbouncer is not installed (make test-deps)"
        if IN_CI:
            pytest.fail(f"CI=true and {reason}", pytrace=False)
        _pg_unreachable.append(reason)
        pytest.skip(f"SKIPPING PGBOUNCER TESTS: {reason}")
    # Migrations run directly on PostgreSQL: a deployment migrates once, not through the pool.
    url, name = _migrated_pg_database(pg_server_url)
    server = sa.make_url(url)
    try:
        bouncer = start_pgbouncer(
            tmp_path_factory.mktemp("pgbouncer"),
            databases={"statpulse": name},
            server_host=server.host or "127.0.0.1",
            server_port=server.port or 5432,
            user=server.username or "postgres",
            password=server.password or "",
            pool_size=PGBOUNCER_POOL_SIZE,
            binary=binary,
        )
        try:
            yield bouncer
        finally:
            bouncer.stop()
    finally:
        drop_pg_database(pg_server_url, name)


@pytest.fixture(scope="session")
def pgbouncer_url(pgbouncer: PgBouncer) -> str:
    """The migrated throwaway database through PgBouncer in transaction pooling mode."""
    return pgbouncer.url("statpulse")


async def truncate_all(store: SqlStore) -> None:
    """Empties every table. PostgreSQL breaks a deadlock with a connection still winding down
    by aborting one side; when that is ours, the TRUNCATE is simply tried again."""
    names = ", ".join(t.name for t in schema.metadata.sorted_tables)
    for attempt in range(5):
        try:
            async with store.engine.begin() as conn:
                await conn.execute(sa.text(f"TRUNCATE {names} CASCADE"))
            return
        except sa.exc.DBAPIError as exc:
            if "deadlock detected" not in str(exc) or attempt == 4:
                raise


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("pgbouncer", marks=pytest.mark.postgres),
    ]
)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SqlStore]:
    """An empty, migrated store on each database (and on PostgreSQL through PgBouncer)."""
    if request.param == "sqlite":
        s = await open_store(f"sqlite:///{tmp_path / 'statpulse.db'}")
    elif request.param == "pgbouncer":
        s = await open_store(
            request.getfixturevalue("pgbouncer_url"), migrate=False, pgbouncer=True
        )
        await truncate_all(s)
    else:
        s = await open_store(request.getfixturevalue("pg_url"), migrate=False)
        await truncate_all(s)
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    s = await open_store(f"sqlite:///{tmp_path / 'statpulse.db'}")
    try:
        yield s
    finally:
        await s.close()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if (report.when == "call" or report.outcome != "passed") and "postgres" in report.keywords:
        _pg_outcomes[report.outcome] = _pg_outcomes.get(report.outcome, 0) + 1


def pytest_terminal_summary(terminalreporter: Any) -> None:
    counts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(_pg_outcomes.items()))
    terminalreporter.write_sep("=", f"PostgreSQL tests: {counts or 'none run'}")
    if _pg_unreachable:
        terminalreporter.write_sep("!", "POSTGRESQL TESTS WERE SKIPPED", red=True, bold=True)
    for reason in dict.fromkeys(_pg_unreachable):
        terminalreporter.write_line(reason, red=True)
