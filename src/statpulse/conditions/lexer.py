"""Tokenizer: condition text to tokens; placeholders carry their path, pat()/any()/re() raw text."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, cast

from statpulse.conditions.errors import ConditionError
from statpulse.conditions.placeholders import ALIASES, PLACEHOLDERS, canonical

OPERATORS = ("==", "!=", "<=", ">=", "<", ">")  # two-character ones first
OR = "||"
FUNCTIONS = ("len", "has", "pat", "any", "re", "regex")
RAW_FUNCTIONS = ("pat", "any", "re", "regex")
"""Functions whose argument is raw text up to the matching ')'."""
_ESCAPING = ("pat", "re", "regex")
"""Raw functions where a backslash escapes the next character (a parenthesis, say)."""
OPERATOR_HINT_RE = re.compile(r"==|!=|<=|>=|<|>|\|\|")
"""An operator written without the whitespace around it that would make it one."""

_PLACEHOLDER_RE = re.compile(r"\[([A-Za-z_]+)\]")
_FUNCTION_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\(")
_WORD_RE = re.compile(r"[^\s()]+")
_KEY_RE = re.compile(r"[^\s.\[\]()]+")
_INDEX_RE = re.compile(r"\[([0-9]{1,18})\]")
_HEADER_RE = re.compile(r"\.([!#$%&'*+.^_`|~0-9A-Za-z-]+)")  # RFC 9110 token


@dataclass(frozen=True, slots=True)
class Token:
    """One token, ``text[start:end]`` of the condition."""

    kind: Literal["op", "or", "placeholder", "func", "raw", "(", ")", "word"]
    start: int
    end: int
    text: str
    name: str = ""  # of a placeholder (canonical: [header] is HEADERS) or function
    path: tuple[str | int, ...] = ()


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text``; raises :class:`ConditionError` for what cannot be a token."""
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char.isspace():
            i += 1
        elif (op := _operator_at(text, i)) is not None:
            tokens.append(Token("or" if op == OR else "op", i, i + len(op), op))
            i += len(op)
        elif char in "()":
            tokens.append(Token(")" if char == ")" else "(", i, i + 1, char))
            i += 1
        elif (m := _PLACEHOLDER_RE.match(text, i)) and (
            canonical(m[1]) in PLACEHOLDERS or m[1].isupper()  # [hello] stays literal text
        ):
            i = _lex_placeholder(text, m, tokens)
        elif m := _FUNCTION_RE.match(text, i):
            i = _lex_call(text, m, tokens)
        else:
            word = cast(re.Match[str], _WORD_RE.match(text, i))
            tokens.append(Token("word", i, word.end(), word[0]))
            i = word.end()
    return tokens


def _operator_at(text: str, i: int) -> str | None:
    if i > 0 and not text[i - 1].isspace():
        return None
    for op in (*OPERATORS, OR):
        end = i + len(op)
        if text.startswith(op, i) and (end == len(text) or text[end].isspace()):
            return op
    return None


def _lex_placeholder(text: str, m: re.Match[str], tokens: list[Token]) -> int:
    name = canonical(m[1])
    if name not in PLACEHOLDERS:
        known = ", ".join(f"[{p}]" for p in sorted((*PLACEHOLDERS, *ALIASES)))
        raise ConditionError(text, m.start(), f"unknown placeholder '{m[0]}' (known: {known})")
    kind = PLACEHOLDERS[name].kind
    if kind == "headers":
        if not (header := _HEADER_RE.match(text, m.end())):
            reason = f"{m[0]} needs a header name, as in {m[0]}.Content-Type"
            raise ConditionError(text, m.end(), reason)
        path: tuple[str | int, ...] = (header[1],)
        i = header.end()
    elif kind in ("body", "list"):
        path, i = _path(text, m, keys=kind == "body")
    else:
        path, i = (), m.end()
    if i < len(text) and not text[i].isspace() and text[i] != ")":
        if text[i] in ".[" and kind == "list":
            reason = f"{m[0]} takes only an element index such as [0]"
        elif text[i] in ".[":
            reason = f"{m[0]} takes no JSON path, only [BODY] does"
        elif OPERATOR_HINT_RE.match(text, i):
            reason = "an operator needs a space on each side"
        else:
            reason = f"unexpected character {text[i]!r} after {m[0]}"
        raise ConditionError(text, i, reason)
    tokens.append(Token("placeholder", m.start(), i, text[m.start() : i], name, path))
    return i


def _path(text: str, m: re.Match[str], *, keys: bool) -> tuple[tuple[str | int, ...], int]:
    """A JSON path (keys and indices) after [BODY], or indices only after a list."""
    path: list[str | int] = []
    i = m.end()
    while i < len(text) and text[i] in ".[":
        if text.startswith(".[", i):  # Gatus accepts "[BODY].[0]"
            i += 1
        elif text[i] == "." and not keys:
            break  # reported by the caller
        elif text[i] == "." and (key := _KEY_RE.match(text, i + 1)):
            path.append(key[0])
            i = key.end()
        elif text[i] == ".":
            raise ConditionError(text, i + 1, "expected a key after '.'")
        elif text.startswith("[*]", i):
            raise ConditionError(text, i, "the [*] wildcard is not supported")
        elif index := _INDEX_RE.match(text, i):
            path.append(int(index[1]))
            i = index.end()
        else:
            raise ConditionError(text, i, "an array index must be an integer such as [0]")
    return tuple(path), i


def _lex_call(text: str, m: re.Match[str], tokens: list[Token]) -> int:
    name, i, depth = m[1], m.end(), 0
    if name not in FUNCTIONS:
        known = ", ".join(f"{f}()" for f in FUNCTIONS)
        raise ConditionError(text, m.start(), f"unknown function '{name}()' (known: {known})")
    tokens.append(Token("func", m.start(), i, m[0], name))
    if name not in RAW_FUNCTIONS:
        return i
    while i < len(text):  # raw text up to the matching ')'
        if text[i] == "\\" and name in _ESCAPING:
            i += 1
        elif text[i] == "(":
            depth += 1
        elif text[i] == ")" and depth > 0:
            depth -= 1
        elif text[i] == ")":
            tokens.append(Token("raw", m.end(), i, text[m.end() : i]))
            tokens.append(Token(")", i, i + 1, ")"))
            return i + 1
        i += 1
    raise ConditionError(text, m.end() - 1, f"unclosed '(' of {name}()")
