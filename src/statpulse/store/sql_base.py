"""Shared plumbing of the SQL store mixins."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine


class SqlBase:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    @property
    def dialect(self) -> str:
        return self._dialect
