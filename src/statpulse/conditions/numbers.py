"""Numbers as Gatus reads them: Go integers and durations (plus days), decimals; ordering."""

from __future__ import annotations

import operator
import re
from fractions import Fraction

ORDERING = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}

# Go accepts both the micro sign (U+00B5) and the Greek mu (U+03BC) for microseconds.
_DURATION_RE = re.compile("([0-9]*)(?:\\.([0-9]*))?(ns|us|\u00b5s|\u03bcs|ms|s|m|h|d)")
_UNIT_NS = {"ns": 1, "us": 10**3, "\u00b5s": 10**3, "\u03bcs": 10**3, "ms": 10**6, "s": 10**9}
_UNIT_NS |= {"m": 60 * 10**9, "h": 3600 * 10**9, "d": 86400 * 10**9}
_MS_UNITS = (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000))
_GO_INT_RE = re.compile(r"[+-]?[0-9][0-9A-Za-z_]{0,80}")
_DECIMAL_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?")
_INF_NAN_RE = re.compile(r"[+-]?inf(?:inity)?|nan", re.IGNORECASE)
_INT64 = 2**63


def go_duration_ms(s: str) -> Fraction | None:
    """Milliseconds of a Go ``time.ParseDuration`` string (``300ms``, ``-1h30m``), else None.

    Days (``7d``) are also a unit, and there is no int64 limit (Go's is about 290 years).
    """
    body = s[1:] if s[:1] in ("+", "-") else s
    total, i = Fraction(), 0
    while i < len(body):
        part = _DURATION_RE.match(body, i)
        if part is None or not (part[1] or part[2]) or len(part[0]) > 40:
            return None
        total += Fraction(f"{part[1] or 0}.{part[2] or 0}") * _UNIT_NS[part[3]]
        i = part.end()
    if not body:
        return None
    return Fraction(-int(total) if s.startswith("-") else int(total), 10**6)


def format_duration_ms(ms: int) -> str:
    """Whole milliseconds as a duration :func:`go_duration_ms` reads back: ``13d2h0.5s``."""
    sign, rest, parts = "-" if ms < 0 else "", abs(ms), []
    for unit, size in _MS_UNITS:
        count, rest = divmod(rest, size)
        parts.append(f"{count}{unit}" if count else "")
    seconds, millis = divmod(rest, 1000)
    if seconds:
        parts.append(f"{seconds}.{millis:03d}".rstrip("0").rstrip(".") + "s")
    elif millis:
        parts.append(f"{millis}ms")
    return sign + ("".join(parts) or "0s")


def go_int(s: str) -> int | None:
    """``strconv.ParseInt(s, 0, 64)``, or None where Go fails.

    Python's rules for base prefixes and ``_`` are Go's; only Go's leading-zero octal differs.
    """
    if not _GO_INT_RE.fullmatch(s):
        return None
    sign, digits = s[0] if s[0] in "+-" else "", s.lstrip("+-")
    if len(digits) > 1 and digits[0] == "0" and digits[1] not in "bBoOxX":
        digits = "0o" + digits[1:]
    try:
        value = int(sign + digits, 0)
    except ValueError:
        return None
    return value if -_INT64 <= value < _INT64 else None


def to_number(s: str) -> int | float | Fraction | None:
    """A value for ordering: a Go duration in ms, a Go integer or a decimal, else None."""
    duration = go_duration_ms(s)
    if duration is not None:
        return duration
    integer = go_int(s)
    if integer is not None:
        return integer
    if len(s) <= 400 and _DECIMAL_RE.fullmatch(s):
        return Fraction(s)  # exact: no rounding surprises in comparisons
    return float(s) if _INF_NAN_RE.fullmatch(s) else None


def go_equal(a: str, b: str) -> bool:
    """``==`` as in Gatus: two Go integers compare as integers, anything else as exact text."""
    x, y = go_int(a), go_int(b)
    return x == y if x is not None and y is not None else a == b
