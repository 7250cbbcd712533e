"""The placeholders read straight from an Observation: status, timings, TLS, DNS, gRPC facts.

Each gives text, a tuple of texts for a list, or None when the observation does not have it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeAlias

from statpulse.conditions.numbers import format_duration_ms
from statpulse.model import Observation

Resolved: TypeAlias = str | tuple[str, ...] | None
"""What a value stands for: text, a list (compared element by element), or unresolved."""


def fact(name: str, obs: Observation, now: datetime) -> Resolved:
    """The value of the placeholder ``name`` (neither ``BODY`` nor ``HEADERS``)."""
    return _FACTS[name](obs, now)


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _whole_ms(ms: float | None) -> str | None:
    """Whole milliseconds, truncated as in Gatus."""
    return str(int(ms)) if ms is not None and math.isfinite(ms) else None


def _ms(ms: float | None) -> str | None:
    """Milliseconds to the microsecond: ``12.5``, ``0.042``, ``300``."""
    if ms is None or not math.isfinite(ms):
        return None
    text = f"{ms:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _expiration(obs: Observation, now: datetime) -> str | None:
    """The time left until the certificate's not_after, as a duration in whole ms (``51d3h``)."""
    if obs.tls is None or obs.tls.not_after is None:
        return None
    micros = (_aware(obs.tls.not_after) - _aware(now)) // timedelta(microseconds=1)
    ms = abs(micros) // 1000  # truncated toward zero, as Go's Duration.Milliseconds()
    return format_duration_ms(ms if micros >= 0 else -ms)


def _http_version(obs: Observation) -> str | None:
    """``1.1``, ``2``, ``3``: HTTP/2 and HTTP/3 have no minor version (a probe may say ``2.0``)."""
    version = obs.http_version
    return version[0] if version in ("2.0", "3.0") else version


def _tls_text(obs: Observation, field: str) -> str | None:
    return (getattr(obs.tls, field) or None) if obs.tls is not None else None


_FACTS: dict[str, Callable[[Observation, datetime], Resolved]] = {
    "STATUS": lambda o, _: None if o.status_code is None else str(o.status_code),
    "RESPONSE_TIME": lambda o, _: _whole_ms(o.latency_ms),
    "DNS_TIME": lambda o, _: _ms(o.phases.dns_ms),
    "CONNECT_TIME": lambda o, _: _ms(o.phases.connect_ms),
    "TLS_TIME": lambda o, _: _ms(o.phases.tls_ms),
    "FIRST_BYTE_TIME": lambda o, _: _ms(o.phases.first_byte_ms),
    "IP": lambda o, _: o.ip,
    "CONNECTED": lambda o, _: _flag(o.connected),
    "HTTP_VERSION": lambda o, _: _http_version(o),
    "REDIRECTS": lambda o, _: str(len(o.redirects)),
    "CERTIFICATE_EXPIRATION": _expiration,
    "CERTIFICATE_ISSUER": lambda o, _: _tls_text(o, "issuer"),
    "CERTIFICATE_SUBJECT": lambda o, _: _tls_text(o, "subject"),
    "CERTIFICATE_SANS": lambda o, _: tuple(o.tls.sans) if o.tls is not None else None,
    "CERTIFICATE_VALID": lambda o, _: (
        _flag(o.tls.chain_valid and o.tls.hostname_valid) if o.tls is not None else None
    ),
    "TLS_VERSION": lambda o, _: _tls_text(o, "version"),
    "DNS_RCODE": lambda o, _: o.dns.rcode if o.dns is not None else None,
    "DNS_ANSWERS": lambda o, _: tuple(o.dns.answers) if o.dns is not None else None,
    "GRPC_STATUS": lambda o, _: o.grpc_status,
}
