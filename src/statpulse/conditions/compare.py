"""Comparison of resolved values: Go-style equality, exact ordering, matchers; lists element-wise.

A list side (``[CERTIFICATE_SANS]``, ``[DNS_ANSWERS]``, a DNS check's ``[BODY]``) holds for ``==``,
``pat()``, ``any()``, ``re()`` and ordering when some element does; ``!=`` is the negation of
``==``: no element equals (or matches).
"""

from __future__ import annotations

from collections.abc import Callable

from statpulse.conditions.facts import Resolved
from statpulse.conditions.nodes import Matcher, Operand
from statpulse.conditions.numbers import ORDERING, go_equal, to_number


def compare(
    op: str, left: Operand, lvalue: Resolved, right: Operand, rvalue: Resolved
) -> bool | None:
    """Whether ``left op right`` holds; None when unknown (a value too long for ``re()``)."""
    for matcher, subject in ((left, rvalue), (right, lvalue)):
        if isinstance(matcher, Matcher):
            if subject is None:
                return False
            found = _some(matcher.matches, subject)
            return None if found is None else found == (op == "==")
    if lvalue is None or rvalue is None:
        return False
    pairs = [(a, b) for a in _items(lvalue) for b in _items(rvalue)]
    if op in ("==", "!="):
        return any(go_equal(a, b) for a, b in pairs) == (op == "==")
    return any(_ordered(op, a, b) for a, b in pairs)


def _items(value: str | tuple[str, ...]) -> tuple[str, ...]:
    return value if isinstance(value, tuple) else (value,)


def _some(matches: Callable[[str], bool | None], value: str | tuple[str, ...]) -> bool | None:
    """True if some element matches, else None if some element may, else False."""
    unknown = False
    for item in _items(value):
        found = matches(item)
        if found:
            return True
        unknown = unknown or found is None
    return None if unknown else False


def _ordered(op: str, a: str, b: str) -> bool:
    x, y = to_number(a), to_number(b)
    return x is not None and y is not None and bool(ORDERING[op](x, y))
