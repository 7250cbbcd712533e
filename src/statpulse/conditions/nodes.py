"""The condition AST; every node keeps its source text and offset, for descriptions and errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

from statpulse.conditions.pattern import Glob, match_glob

Operator: TypeAlias = Literal["==", "!=", "<", "<=", ">", ">="]


@dataclass(frozen=True, slots=True)
class Value:
    """A side that resolves to text.

    Literal text has no ``placeholder``; ``[BODY].a[0]`` has placeholder ``BODY`` and path
    ``("a", 0)``; ``len(...)`` and ``has(...)`` set ``func``.
    """

    src: str
    start: int
    placeholder: str = ""
    path: tuple[str | int, ...] = ()
    func: str = ""


@dataclass(frozen=True, slots=True)
class Matcher:
    """``pat(glob)`` or ``any(a, b, ...)``, compared with a :class:`Value` by ``==`` or ``!=``."""

    func: str
    src: str
    start: int
    options: tuple[str, ...] = ()  # any()
    glob: Glob = ()  # pat()

    def matches(self, value: str) -> bool:
        if self.func == "any":
            return value in self.options
        return match_glob(self.glob, value)


Operand: TypeAlias = Value | Matcher


@dataclass(frozen=True, slots=True)
class Condition:
    """A parsed condition, ``left operator right``; build it with :func:`parse`."""

    text: str
    operator: Operator
    left: Operand
    right: Operand

    @property
    def latency_only(self) -> bool:
        """True when it has placeholders and all are ``[RESPONSE_TIME]``."""
        sides = (self.left, self.right)
        names = [n.placeholder for n in sides if isinstance(n, Value) and n.placeholder]
        return bool(names) and all(name == "RESPONSE_TIME" for name in names)
