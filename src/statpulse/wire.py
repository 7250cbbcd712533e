"""The JSON form of results and check specs between runners, the spool and the engine.

``result_to_dict``/``result_from_dict`` and ``spec_to_dict``/``spec_from_dict`` round-trip
exactly. ``*_from_dict`` validate: a missing or mistyped field raises ``WireError`` naming it
(``results[3].started_at``), so a bad upload is refused whole with a clear message.

A spec carries the monitor's secrets (header values, gRPC metadata, client keys): it travels
only inside assignments over mutual TLS and is never written to disk by a runner.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from statpulse.model import (
    CheckResult,
    CheckSpec,
    ConditionResult,
    DnsOptions,
    ErrorClass,
    GrpcOptions,
    HttpOptions,
    Phases,
    TcpOptions,
    TlsOptions,
)


class WireError(ValueError):
    """A document is not a valid result or spec; the message names the field."""


def result_to_dict(r: CheckResult) -> dict[str, Any]:
    return {
        "id": str(r.id),
        "monitor_id": str(r.monitor_id),
        "region": r.region,
        "scheduled_at": r.scheduled_at.isoformat(),
        "started_at": r.started_at.isoformat(),
        "latency_ms": r.latency_ms,
        "ok": r.ok,
        "degraded": r.degraded,
        "status_code": r.status_code,
        "phases": dataclasses.asdict(r.phases),
        "error_class": r.error_class.value if r.error_class else None,
        "error_message": r.error_message,
        "conditions": [dataclasses.asdict(c) for c in r.conditions],
        "attempts": r.attempts,
    }


def result_from_dict(doc: Any, where: str = "result", *, region: str | None = None) -> CheckResult:
    """``region``: when given, it replaces the document's (the engine takes a remote runner's
    region from its certificate, never from the body)."""
    d = _mapping(doc, where)
    phases = _mapping(d.get("phases", {}), f"{where}.phases")
    conditions = _list(d.get("conditions", []), f"{where}.conditions")
    error_class = _opt(d, "error_class", str, where)
    try:
        klass = ErrorClass(error_class) if error_class is not None else None
    except ValueError:
        raise WireError(f"{where}.error_class: unknown value {error_class!r}") from None
    return CheckResult(
        id=_uuid(d, "id", where),
        monitor_id=_uuid(d, "monitor_id", where),
        region=region if region is not None else _req(d, "region", str, where),
        scheduled_at=_time(d, "scheduled_at", where),
        started_at=_time(d, "started_at", where),
        latency_ms=_opt_number(d, "latency_ms", where),
        ok=_req(d, "ok", bool, where),
        degraded=bool(_opt(d, "degraded", bool, where)),
        status_code=_opt(d, "status_code", int, where),
        phases=Phases(
            **{
                f.name: _opt_number(phases, f.name, f"{where}.phases")
                for f in dataclasses.fields(Phases)
            }
        ),
        error_class=klass,
        error_message=_opt(d, "error_message", str, where),
        conditions=tuple(
            _condition(c, f"{where}.conditions[{i}]") for i, c in enumerate(conditions)
        ),
        attempts=_opt(d, "attempts", int, where) or 1,
    )


def spec_to_dict(spec: CheckSpec) -> dict[str, Any]:
    doc = dataclasses.asdict(spec)
    doc["monitor_id"] = str(spec.monitor_id)
    doc["conditions"] = list(spec.conditions)
    return doc


_OPTIONS: dict[str, type] = {
    "http": HttpOptions,
    "tcp": TcpOptions,
    "grpc": GrpcOptions,
    "dns": DnsOptions,
    "tls": TlsOptions,
}


def spec_from_dict(doc: Any, where: str = "spec") -> CheckSpec:
    d = _mapping(doc, where)
    options = {}
    for name, cls in _OPTIONS.items():
        given = _mapping(d.get(name, {}), f"{where}.{name}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(given) - known
        if unknown:
            raise WireError(f"{where}.{name}.{sorted(unknown)[0]}: unknown field")
        try:
            options[name] = cls(**given)
        except TypeError as exc:
            raise WireError(f"{where}.{name}: {exc}") from None
    conditions = _list(d.get("conditions", []), f"{where}.conditions")
    if not all(isinstance(c, str) for c in conditions):
        raise WireError(f"{where}.conditions: expected strings")
    return CheckSpec(
        monitor_id=_uuid(d, "monitor_id", where),
        kind=_req(d, "kind", str, where),
        target=_req(d, "target", str, where),
        interval_s=_req(d, "interval_s", int, where),
        timeout_s=float(_req_number(d, "timeout_s", where)),
        conditions=tuple(conditions),
        retries=_opt(d, "retries", int, where) or 0,
        retry_delay_s=float(_opt_number(d, "retry_delay_s", where) or 1.0),
        **options,
    )


# -- validation helpers -----------------------------------------------------------------------


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise WireError(f"{where}: expected an object")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise WireError(f"{where}: expected a list")
    return value


def _req(d: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    if key not in d:
        raise WireError(f"{where}.{key}: missing")
    return _typed(d[key], kind, f"{where}.{key}")


def _opt(d: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    value = d.get(key)
    return None if value is None else _typed(value, kind, f"{where}.{key}")


def _typed(value: Any, kind: type, where: str) -> Any:
    # bool is an int in Python: never accept one for the other.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise WireError(f"{where}: expected {kind.__name__}")
    return value


def _req_number(d: Mapping[str, Any], key: str, where: str) -> float:
    value = _opt_number(d, key, where)
    if value is None:
        raise WireError(f"{where}.{key}: missing")
    return value


def _opt_number(d: Mapping[str, Any], key: str, where: str) -> float | None:
    value = d.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise WireError(f"{where}.{key}: expected a number")
    return float(value)


def _uuid(d: Mapping[str, Any], key: str, where: str) -> uuid.UUID:
    text = _req(d, key, str, where)
    try:
        return uuid.UUID(text)
    except ValueError:
        raise WireError(f"{where}.{key}: not a UUID") from None


def _time(d: Mapping[str, Any], key: str, where: str) -> datetime:
    text = _req(d, key, str, where)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise WireError(f"{where}.{key}: not an ISO 8601 time") from None
    if value.tzinfo is None:
        raise WireError(f"{where}.{key}: time without a zone")
    return value


def _condition(doc: Any, where: str) -> ConditionResult:
    d = _mapping(doc, where)
    return ConditionResult(
        condition=_req(d, "condition", str, where),
        success=_req(d, "success", bool, where),
        description=_req(d, "description", str, where),
        latency_only=bool(_opt(d, "latency_only", bool, where)),
    )
