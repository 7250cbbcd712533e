"""Hear this process's committed writes to some tables (SQLAlchemy engine events), so caches in
front of the store drop what a write changed at once; other processes' writes show after the
caches' TTLs."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, ExecutionContext

_DIRTY = "statpulse_write_watch_dirty"


def watch_committed_writes(
    engine: Engine,
    tables: frozenset[str],
    on_commit: Callable[[], None],
    *,
    ignoring: Iterable[Any] = (),
) -> Callable[[], None]:
    """Call ``on_commit`` when a transaction on ``engine`` (an ``AsyncEngine``'s
    ``sync_engine``) that wrote to one of ``tables`` commits; returns what stops watching.
    Writes by the statement objects in ``ignoring`` (built once, compared by identity) do not
    count. Each watch marks the connection with its own key: several watch one engine."""
    dirty = (_DIRTY, object())
    ignored = frozenset(id(statement) for statement in ignoring)

    def executed(conn: Connection, *args: Any) -> None:
        context: ExecutionContext = args[-2]
        if (
            getattr(context, "isinsert", False)
            or getattr(context, "isupdate", False)
            or getattr(context, "isdelete", False)
        ):
            statement = getattr(context.compiled, "statement", None)
            table = getattr(statement, "table", None)
            if getattr(table, "name", None) in tables and id(statement) not in ignored:
                conn.info[dirty] = True

    def committed(conn: Connection) -> None:
        if conn.info.pop(dirty, False):
            on_commit()

    def rolled_back(conn: Connection) -> None:
        conn.info.pop(dirty, None)

    listeners = (
        ("after_cursor_execute", executed),
        ("commit", committed),
        ("rollback", rolled_back),
    )
    for name, fn in listeners:
        event.listen(engine, name, fn)

    def stop() -> None:
        for name, fn in listeners:
            event.remove(engine, name, fn)

    return stop
