"""The condition AST; every node keeps its source text and offset, for descriptions and errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

from statpulse.conditions.pattern import Glob, match_glob
from statpulse.conditions.placeholders import PLACEHOLDERS
from statpulse.conditions.regex import Regex

Operator: TypeAlias = Literal["==", "!=", "<", "<=", ">", ">="]


@dataclass(frozen=True, slots=True)
class Value:
    """A side that resolves to text (or, for list placeholders, to a list of texts).

    Literal text has no ``placeholder``; ``[BODY].a[0]`` has placeholder ``BODY`` and path
    ``("a", 0)``, ``[HEADERS].Server`` placeholder ``HEADERS`` and path ``("Server",)``;
    ``len(...)`` and ``has(...)`` set ``func``.
    """

    src: str
    start: int
    placeholder: str = ""
    path: tuple[str | int, ...] = ()
    func: str = ""


@dataclass(frozen=True, slots=True)
class Matcher:
    """``pat(glob)``, ``any(a, b, ...)`` or ``re(regex)``, compared with a :class:`Value` by
    ``==`` or ``!=``."""

    func: str
    src: str
    start: int
    options: tuple[str, ...] = ()  # any()
    glob: Glob = ()  # pat()
    regex: Regex | None = None  # re(), regex()

    def matches(self, value: str) -> bool | None:
        """Whether ``value`` matches; None when that is unknown (see :meth:`Regex.search`)."""
        if self.regex is not None:
            return self.regex.search(value)
        if self.func == "any":
            return value in self.options
        return match_glob(self.glob, value)


Operand: TypeAlias = Value | Matcher


@dataclass(frozen=True, slots=True)
class Comparison:
    """``left operator right``: one alternative of a condition."""

    src: str
    start: int
    operator: Operator
    left: Operand
    right: Operand

    @property
    def latency_only(self) -> bool:
        """True when it has placeholders and all are timings (``[RESPONSE_TIME]``,
        ``[DNS_TIME]``, ``[CONNECT_TIME]``, ``[TLS_TIME]``, ``[FIRST_BYTE_TIME]``)."""
        sides = (self.left, self.right)
        names = [n.placeholder for n in sides if isinstance(n, Value) and n.placeholder]
        return bool(names) and all(PLACEHOLDERS[name].latency for name in names)


@dataclass(frozen=True, slots=True)
class Condition:
    """A parsed condition: comparisons joined by ``||``; build it with :func:`parse`."""

    text: str
    alternatives: tuple[Comparison, ...]

    @property
    def latency_only(self) -> bool:
        """True when every alternative is about timings only: failing, it degrades a check."""
        return all(alternative.latency_only for alternative in self.alternatives)
