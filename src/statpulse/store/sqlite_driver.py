"""SQLite for asyncio with one thread hop per statement (URL scheme ``sqlite+statpulse``).

SQLAlchemy's ``aiosqlite`` adapter makes every statement four round trips between the event
loop and the connection's thread (open a cursor, execute, fetch, close the cursor), and every
pooled connection one more when it is returned (rollback), even after a read that opened no
transaction. Each trip costs a queue hand-over and an event-loop wake-up: ~0.13 ms here, so a
``SELECT 1`` took 0.66 ms, and the check-to-page path runs some twenty statements
(bench/check_to_page.py).

This adapter runs a statement's execute, fetch and close as one function on the connection's
thread, and skips ``commit``/``rollback`` when the connection has no transaction open (they are
no-ops in sqlite3 then). Everything else (the dialect's SQL, pragmas, functions, errors,
server-side cursors) is SQLAlchemy's aiosqlite dialect, unchanged.
"""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import Sequence
from typing import Any

import aiosqlite
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    SQLiteDialect_aiosqlite,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

SCHEME = "sqlite+statpulse"

_Outcome = tuple[Any, Sequence[Any], int, int | None]


def _run(connection: aiosqlite.Connection, operation: Any, parameters: Any, many: bool) -> _Outcome:
    """On the connection's thread: the whole statement, rows included."""
    cursor = connection._conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else ()
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class _Cursor(AsyncAdapt_aiosqlite_cursor):
    """A cursor whose statement, with all its rows, is one call on the connection's thread."""

    __slots__ = ("_arraysize", "_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:
        # No aiosqlite cursor: each execute opens and closes a sqlite3 one on the thread.
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None
        self._arraysize = 1

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid  # type: ignore[return-value]

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    async def _async_soft_close(self) -> None:
        """Nothing to close: the sqlite3 cursor closed on the thread after the statement."""

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        try:
            return await_(self._statement(operation, parameters, False))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        try:
            return await_(self._statement(operation, seq_of_parameters, True))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    async def _statement(self, operation: Any, parameters: Any, many: bool) -> None:
        async with self._adapt_connection._execute_mutex:
            outcome: _Outcome = await self._connection._execute(
                _run, self._connection, operation, parameters, many
            )
        self._description, rows, self._rowcount, self._lastrowid = outcome
        self._rows = collections.deque(rows)


class _Connection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()

    _cursor_cls = _Cursor  # type: ignore[assignment]

    def _in_transaction(self) -> bool:
        # A plain attribute read of sqlite3's autocommit flag; pysqlite checks no thread for it,
        # and no statement of this connection is running while SQLAlchemy commits or resets it.
        raw: sqlite3.Connection | None = self._connection._connection
        return raw is not None and raw.in_transaction

    def rollback(self) -> None:
        if self._in_transaction():
            super().rollback()

    def commit(self) -> None:
        if self._in_transaction():
            super().commit()


class _DBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> _Connection:
        # SQLAlchemy's connect (daemon thread, async_creator_fn), re-wrapped in our adapter.
        return _Connection(self, super().connect(*arg, **kw)._connection)


class SQLiteDialect(SQLiteDialect_aiosqlite):
    driver = "statpulse"
    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> _DBAPI:
        return _DBAPI(aiosqlite, sqlite3)


registry.register("sqlite.statpulse", __name__, "SQLiteDialect")
