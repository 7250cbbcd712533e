"""Globs for ``pat()``: Go ``filepath.Match`` syntax compiled from text, matched in linear time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from statpulse.conditions.errors import ConditionError


@dataclass(frozen=True, slots=True)
class CharClass:
    """One glob character: ``[a-z]``, ``[^a-z]``; ``?`` is the negated empty class."""

    negated: bool
    ranges: tuple[tuple[str, str], ...]

    def matches(self, char: str) -> bool:
        return any(lo <= char <= hi for lo, hi in self.ranges) != self.negated


Glob: TypeAlias = tuple[str | CharClass | None, ...]
"""A compiled glob: literal characters, character classes, and None for ``*``."""


def compile_glob(text: str, i: int, end: int) -> Glob:
    """The glob in ``text[i:end]``, Go ``filepath.Match`` syntax; ConditionError where Go fails."""
    glob: list[str | CharClass | None] = []
    while i < end:
        if text[i] == "*":
            if not glob or glob[-1] is not None:
                glob.append(None)
        elif text[i] == "?":
            glob.append(CharClass(True, ()))
        elif text[i] == "[":
            open_at, negated = i, text.startswith("^", i + 1)
            i += 2 if negated else 1
            ranges: list[tuple[str, str]] = []
            while i >= end or text[i] != "]" or not ranges:
                lo, i = _glob_char(text, i, end, open_at)
                hi = lo
                if text.startswith("-", i):
                    hi, i = _glob_char(text, i + 1, end, open_at)
                ranges.append((lo, hi))  # lo > hi matches nothing, as in Go
            glob.append(CharClass(negated, tuple(ranges)))
        else:  # the tokenizer made sure an escaping backslash is followed by a character
            i += 1 if text[i] == "\\" else 0
            glob.append(text[i])
        i += 1
    return tuple(glob)


def _glob_char(text: str, i: int, end: int, open_at: int) -> tuple[str, int]:
    if i < end and text[i] in "-]":
        raise ConditionError(text, i, f"unexpected '{text[i]}' in a pattern's [...]")
    if i < end and text[i] == "\\":
        i += 1
    if i >= end:
        raise ConditionError(text, open_at, "unclosed '[' in pattern")
    return text[i], i + 1


def match_glob(glob: Glob, value: str) -> bool:
    """Whether ``glob`` matches the whole of ``value``; ``/`` is an ordinary character."""
    # Backtracking only to the last '*' is enough for globs: O(len(glob) * len(value)).
    p, i, star_p, star_i = 0, 0, -1, 0
    while i < len(value):
        token = glob[p] if p < len(glob) else ""
        if token is None:
            star_p, star_i, p = p, i, p + 1
        elif token != "" and (
            token == value[i] if isinstance(token, str) else token.matches(value[i])
        ):
            p, i = p + 1, i + 1
        elif star_p >= 0:
            star_i += 1
            p, i = star_p + 1, star_i
        else:
            return False
    return all(t is None for t in glob[p:])
