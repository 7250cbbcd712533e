"""Database engines: the SQLite/PostgreSQL differences of connecting live here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from statpulse.engine.sketch import LatencySketch
from statpulse.store.sqlite_driver import SCHEME as SQLITE_SCHEME

_DRIVERS = {
    "sqlite": SQLITE_SCHEME,
    "sqlite+aiosqlite": SQLITE_SCHEME,
    SQLITE_SCHEME: SQLITE_SCHEME,
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}


class DatabaseUrlError(ValueError):
    """The database URL is not one StatPulse can use."""


def async_url(url: str) -> sa.URL:
    """Map ``sqlite:///file`` and ``postgresql://...`` to their async drivers.

    Raises DatabaseUrlError for anything else.
    """
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise DatabaseUrlError(f"invalid database URL {url!r}") from exc
    driver = _DRIVERS.get(parsed.drivername)
    if driver is None:
        raise DatabaseUrlError(
            f"unsupported database {parsed.drivername!r}: use sqlite:///PATH or postgresql://..."
        )
    return parsed.set(drivername=driver)


def create_engine(url: str, *, pgbouncer: bool = False, **options: Any) -> AsyncEngine:
    """An async engine for ``url``; SQLite files get WAL, FULL sync and foreign keys on.

    ``pgbouncer=True``: ``url`` is PgBouncer in transaction pooling mode, where each transaction
    may run on a different server connection, so nothing may outlive a transaction on the
    server (PgBouncer 1.18 cannot track prepared statements; ``max_prepared_statements`` came
    in 1.21). The store needs nothing else: its locks (``pg_advisory_xact_lock``), temporary
    tables (``ON COMMIT DROP``) and COPYs all live inside one transaction. The options, passed
    to the driver through ``connect_args`` (see ``PGBOUNCER_CONNECT_ARGS``):

    - ``statement_cache_size=0``: asyncpg's own statements (``fetch``, the COPY's column
      introspection, type introspection) are unnamed instead of named and cached per client
      connection ("prepared statement __asyncpg_stmt_N__ does not exist" on the next server).
    - ``prepared_statement_cache_size=0``: SQLAlchemy's adapter keeps no prepared statement
      (nor its result description) across executions. Its cache would still be correct with
      the unnamed statements below, which asyncpg re-Parses on every execution, and saves the
      Describe round trip (~20-40 % more small transactions/s through PgBouncer, measured);
      it is off so that correctness does not rest on that asyncpg internal.
    - ``prepared_statement_name_func`` returning ``""``: SQLAlchemy's adapter prepares every
      statement with ``Connection.prepare()``; the empty name makes it the unnamed statement,
      which the next Parse on that server replaces, and which asyncpg (its cache off) re-Parses
      together with the Bind/Execute, so it never matters which server runs it. Without this,
      asyncpg 0.30 names them ``__asyncpg_stmt_N__`` (0.31+ leaves them unnamed when its cache
      is off; this pins it). The SQLAlchemy docs suggest unique ``uuid4`` names instead: those
      are closed later, on whichever server the client has then, so they pile up on the servers
      (measured through PgBouncer 1.18: ~300 per server connection after 2,000 statements,
      until ``server_lifetime``; tests/store/test_pgbouncer.py checks that none is left).

    https://docs.sqlalchemy.org/en/20/dialects/postgresql.html#prepared-statement-name-with-pgbouncer
    https://www.pgbouncer.org/features.html (what transaction pooling breaks)
    """
    parsed = async_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, **options)
    if pgbouncer:
        options["connect_args"] = {**options.get("connect_args", {}), **PGBOUNCER_CONNECT_ARGS}
    options.setdefault("pool_size", 10)
    options.setdefault("max_overflow", 10)
    options.setdefault("pool_pre_ping", True)
    return create_async_engine(parsed, **options)


def _unnamed() -> str:
    return ""


PGBOUNCER_CONNECT_ARGS: dict[str, Any] = {
    "statement_cache_size": 0,
    "prepared_statement_cache_size": 0,
    "prepared_statement_name_func": _unnamed,
}
"""asyncpg options for PgBouncer's transaction pooling (see ``create_engine``)."""


SKETCH_MERGE = "statpulse_sketch_merge"
"""SQLite function ``statpulse_sketch_merge(old, new)``: the encoding of the merge of two
encoded latency sketches, so a rollup upsert merges its sketch in the statement itself (see
sql_rollups). A malformed sketch raises, which fails the statement and its transaction."""

_EMPTY_SKETCH = LatencySketch().to_bytes()


def _sketch_merge(old: bytes, new: bytes) -> bytes:
    if new == _EMPTY_SKETCH:
        return old
    if old == _EMPTY_SKETCH:
        return new
    merged = LatencySketch.from_bytes(old)
    merged.merge(LatencySketch.from_bytes(new))
    return merged.to_bytes()


def _sqlite_engine(url: sa.URL, **options: Any) -> AsyncEngine:
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, **options)

    @event.listens_for(engine.sync_engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        # FULL: a result is acknowledged only after an fsynced commit (FIELD-NOTES: NORMAL can
        # lose the last commits on power loss). Writes are batched, so the cost stays small.
        for pragma in (
            "journal_mode=WAL",
            "synchronous=FULL",
            "foreign_keys=ON",
            "busy_timeout=10000",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()
        dbapi_connection.create_function(SKETCH_MERGE, 2, _sketch_merge, deterministic=True)

    return engine
