"""Shared plumbing of the SQL store mixins: the engine, and reading rows into model types."""

from __future__ import annotations

import dataclasses
import enum
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

T = TypeVar("T")


_ENUM_FIELDS: dict[type, dict[str, type[enum.Enum]]] = {}


def _enum_fields(cls: type) -> dict[str, type[enum.Enum]]:
    """The fields of a dataclass typed as an enum (or an optional enum); computed once."""
    found = _ENUM_FIELDS.get(cls)
    if found is None:
        found = {}
        for name, hint in typing.get_type_hints(cls).items():
            for candidate in (hint, *typing.get_args(hint)):
                if isinstance(candidate, type) and issubclass(candidate, enum.Enum):
                    found[name] = candidate
        _ENUM_FIELDS[cls] = found
    return found


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    """The field names of a dataclass; computed once."""
    found = _FIELD_NAMES.get(cls)
    if found is None:
        found = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return found


def from_row(cls: type[T], row: sa.Row[Any]) -> T:
    """A model dataclass from the row columns of the same names (extra columns are ignored);
    enum fields are built from their stored values."""
    mapping = row._mapping
    values = {name: mapping[name] for name in _field_names(cls)}
    for name, enum_type in _enum_fields(cls).items():
        if values[name] is not None:
            values[name] = enum_type(values[name])
    return cls(**values)


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

    async def _all(
        self, query: sa.Executable, params: Mapping[str, Any] | None = None
    ) -> list[sa.Row[Any]]:
        async with self._engine.connect() as conn:
            return list((await conn.execute(query, params)).all())

    async def _first(self, query: sa.Executable) -> sa.Row[Any] | None:
        async with self._engine.connect() as conn:
            return (await conn.execute(query)).first()
