"""Helpers for the condition tests: observations, judging, and table rows."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from statpulse.conditions import evaluate
from statpulse.model import DnsInfo, Observation, Phases, RedirectHop, TlsInfo

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
"""The fixed time every judged condition is evaluated at."""


def observe(
    *,
    status: int | None = 200,
    latency_ms: float | None = 100.0,
    body: bytes | str | Any = b"",
    ip: str | None = "127.0.0.1",
    connected: bool = True,
    phases: Phases | None = None,
    headers: Mapping[str, str] | None = None,
    tls: TlsInfo | None = None,
    dns: DnsInfo | None = None,
    redirects: int = 0,
    http_version: str | None = None,
    grpc_status: str | None = None,
) -> Observation:
    """An observation; a body that is neither bytes nor str is sent as JSON; ``redirects`` is
    how many hops were followed."""
    if isinstance(body, str):
        body = body.encode()
    elif not isinstance(body, bytes):
        body = json.dumps(body).encode()
    hops = tuple(RedirectHop(f"http://h/{n}", 301, f"/{n + 1}") for n in range(redirects))
    return Observation(
        connected=connected,
        latency_ms=latency_ms,
        phases=phases or Phases(),
        status_code=status,
        headers=headers or {},
        body=body,
        ip=ip,
        tls=tls,
        dns=dns,
        redirects=hops,
        http_version=http_version,
        grpc_status=grpc_status,
    )


def certificate(*, expires_in: timedelta = timedelta(days=60), **fields: Any) -> TlsInfo:
    """A verified TLS session whose certificate expires ``expires_in`` after :data:`NOW`."""
    facts: dict[str, Any] = {
        "version": "TLSv1.3",
        "cipher": "TLS_AES_128_GCM_SHA256",
        "not_before": NOW - timedelta(days=30),
        "not_after": NOW + expires_in,
        "issuer": "CN=R11,O=Let's Encrypt,C=US",
        "subject": "CN=example.com",
        "sans": ("example.com", "www.example.com"),
        "chain_valid": True,
        "hostname_valid": True,
    }
    return TlsInfo(**(facts | fields))


def judge(condition: str, **observed: Any) -> tuple[bool, str]:
    result = evaluate(condition, observe(**observed), now=NOW)
    return result.success, result.description


def case(condition: str, observed: dict[str, Any], success: bool, description: str = "") -> Any:
    """A table row; the description defaults to the condition (what a success shows)."""
    return pytest.param(condition, observed, success, description or condition, id=condition)


def check(condition: str, observed: dict[str, Any], success: bool, description: str) -> None:
    assert judge(condition, **observed) == (success, description)
