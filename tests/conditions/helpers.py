"""Helpers for the condition tests: observations, judging, and table rows."""

from __future__ import annotations

import json
from typing import Any

import pytest

from statpulse.conditions import evaluate
from statpulse.model import Observation


def observe(
    *,
    status: int | None = 200,
    latency_ms: float | None = 100.0,
    body: bytes | str | Any = b"",
    ip: str | None = "127.0.0.1",
    connected: bool = True,
) -> Observation:
    """An observation; a body that is neither bytes nor str is sent as JSON."""
    if isinstance(body, str):
        body = body.encode()
    elif not isinstance(body, bytes):
        body = json.dumps(body).encode()
    return Observation(
        connected=connected, latency_ms=latency_ms, status_code=status, body=body, ip=ip
    )


def judge(condition: str, **observed: Any) -> tuple[bool, str]:
    result = evaluate(condition, observe(**observed))
    return result.success, result.description


def case(condition: str, observed: dict[str, Any], success: bool, description: str = "") -> Any:
    """A table row; the description defaults to the condition (what a success shows)."""
    return pytest.param(condition, observed, success, description or condition, id=condition)


def check(condition: str, observed: dict[str, Any], success: bool, description: str) -> None:
    assert judge(condition, **observed) == (success, description)
