"""Resolution: what a Value stands for in one Observation (placeholders, JSON paths, headers)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from functools import cached_property
from typing import Any

from statpulse.conditions.dnsbody import dns_body
from statpulse.conditions.facts import Resolved, fact
from statpulse.conditions.nodes import Operand, Value
from statpulse.model import Observation


def _json_float(s: str) -> int | float:
    number = float(s)
    # Integral values become ints, so 1.0 reads "1" (as in Gatus) and 1e6 "1000000".
    return int(number) if number.is_integer() and abs(number) < 1e21 else number


def _not_json(name: str) -> None:
    raise ValueError(f"{name} is not JSON")  # Python's json accepts NaN and Infinity; Go does not


def _render(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value by case-insensitive name (the probes give lower-case keys)."""
    lower = name.lower()
    found = headers.get(lower)
    if found is None:
        found = next((v for k, v in headers.items() if k.lower() == lower), None)
    return found


def _counted(func: str, value: Resolved) -> Resolved:
    """``has()``: present (a list: not empty); ``len()``: a list's count, a text's length."""
    if func == "has":
        present = bool(value) if isinstance(value, tuple) else value is not None
        return "true" if present else "false"
    if func == "len":
        return None if value is None else str(len(value))
    return value


def _element(items: tuple[str, ...], path: tuple[str | int, ...]) -> Resolved:
    if not path:
        return items
    index = path[0]
    found = len(path) == 1 and isinstance(index, int) and index < len(items)
    return items[index] if found and isinstance(index, int) else None


_NOT_JSON = object()


class Resolver:
    """Values of one observation at ``now``; decodes and parses the body at most once."""

    def __init__(self, obs: Observation, now: datetime) -> None:
        self.obs, self.now = obs, now

    @cached_property
    def body(self) -> str:
        return self.obs.body.decode("utf-8", errors="replace").strip()

    @cached_property
    def document(self) -> object:
        """The body as JSON, or ``_NOT_JSON``."""
        try:
            return json.loads(self.body, parse_float=_json_float, parse_constant=_not_json)
        except (ValueError, RecursionError):
            return _NOT_JSON

    @cached_property
    def dns_body(self) -> tuple[str, ...] | None:
        """For a DNS check, the answers' values that ``[BODY]`` compares."""
        return None if self.obs.dns is None else dns_body(self.obs.dns)

    def node(self, path: tuple[str | int, ...]) -> object:
        """The JSON value at a ``[BODY]`` path; None if missing, null, or the body is no JSON."""
        node: Any = self.document
        for step in path:
            if isinstance(step, str):
                found = isinstance(node, dict) and step in node
            else:
                found = isinstance(node, list) and step < len(node)
            if not found:
                return None
            node = node[step]
        return None if node is _NOT_JSON else node

    def value(self, node: Operand) -> Resolved:
        """What a value stands for; None when it cannot be resolved (and for matchers)."""
        try:
            return self._value(node) if isinstance(node, Value) else None
        except RecursionError:  # absurdly deep JSON, treated like unreadable data
            return None

    def _value(self, v: Value) -> Resolved:
        name = v.placeholder
        if not name:
            return v.src
        if name == "HEADERS":
            return _counted(v.func, _header(self.obs.headers, str(v.path[0])))
        if name == "BODY" and self.dns_body is not None:
            return _counted(v.func, _element(self.dns_body, v.path))
        if name == "BODY":
            return self._body(v)
        resolved = fact(name, self.obs, self.now)
        if isinstance(resolved, tuple):
            resolved = _element(resolved, v.path)
        return _counted(v.func, resolved)

    def _body(self, v: Value) -> str | None:
        if v.func == "has":
            present = self.node(v.path) is not None if v.path else bool(self.body)
            return "true" if present else "false"
        if v.func == "len" and not v.path:
            document = self.document
            return str(len(document if isinstance(document, list) else self.body))
        node = self.node(v.path) if v.path else self.body
        if node is None:
            return None
        if v.func == "len":
            return str(len(node if isinstance(node, list) else _render(node)))
        return _render(node)
