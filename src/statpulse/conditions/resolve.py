"""Resolution: the text a Value stands for in one Observation (placeholders, JSON paths)."""

from __future__ import annotations

import json
import math
from functools import cached_property
from typing import Any

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


_NOT_JSON = object()


class Resolver:
    """Values of one observation; decodes and parses the body at most once, when needed."""

    def __init__(self, obs: Observation) -> None:
        self.obs = obs

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

    def value(self, node: Operand) -> str | None:
        """The text a value resolves to; None when it cannot be resolved (and for matchers)."""
        try:
            return self._value(node) if isinstance(node, Value) else None
        except RecursionError:  # absurdly deep JSON, treated like unreadable data
            return None

    def _value(self, v: Value) -> str | None:
        obs, name = self.obs, v.placeholder
        if not name:
            return v.src
        if name == "STATUS":
            return None if obs.status_code is None else str(obs.status_code)
        if name == "RESPONSE_TIME":  # whole milliseconds, truncated as in Gatus
            ms = obs.latency_ms
            return str(int(ms)) if ms is not None and math.isfinite(ms) else None
        if name == "IP":
            return obs.ip
        if name == "CONNECTED":
            return "true" if obs.connected else "false"
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
