"""Shared plumbing of the SQL store mixins: the engine, and reading rows into model types."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

T = TypeVar("T")


def from_row(cls: type[T], row: sa.Row[Any]) -> T:
    """A model dataclass from the row columns of the same names (extra columns are ignored)."""
    mapping = row._mapping
    return cls(**{f.name: mapping[f.name] for f in dataclasses.fields(cls)})  # type: ignore[arg-type]


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

    async def _all(self, query: sa.Executable) -> list[sa.Row[Any]]:
        async with self._engine.connect() as conn:
            return list((await conn.execute(query)).all())

    async def _first(self, query: sa.Executable) -> sa.Row[Any] | None:
        async with self._engine.connect() as conn:
            return (await conn.execute(query)).first()
