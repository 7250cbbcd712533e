"""Domain types shared by every layer.

Nothing here does I/O. Times are timezone-aware UTC datetimes; durations are milliseconds
(``*_ms``) or seconds (``*_s``) as their names say.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

import uuid_utils.compat as _uuid7


def new_id() -> uuid.UUID:
    """A UUIDv7: time-ordered, so primary keys stay index friendly."""
    return _uuid7.uuid7()


def utcnow() -> datetime:
    return datetime.now(UTC)


class Status(StrEnum):
    """State of a monitor (and of one region's view of it)."""

    UP = "up"
    DEGRADED = "degraded"
    DOWN = "down"
    MAINTENANCE = "maintenance"
    PAUSED = "paused"
    UNKNOWN = "unknown"


class ErrorClass(StrEnum):
    """Why a check failed; short, stable, meant for narratives and grouping."""

    DNS = "dns"
    CONNECT = "connect"
    TLS = "tls"
    TIMEOUT = "timeout"
    PROTOCOL = "protocol"
    HTTP_STATUS = "http_status"
    ASSERTION = "assertion"
    INTERNAL = "internal"


class Scope(StrEnum):
    READ = "read"
    WRITE = "write"


@dataclass(frozen=True, slots=True)
class HttpOptions:
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str | None = None
    follow_redirects: bool = True
    max_redirects: int = 10
    verify_tls: bool = True


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """Everything a runner needs to execute one monitor's checks."""

    monitor_id: uuid.UUID
    kind: str
    target: str
    interval_s: int
    timeout_s: float
    http: HttpOptions = field(default_factory=HttpOptions)
    conditions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Phases:
    """Per-phase timings of one check, in milliseconds; None when the phase did not happen."""

    dns_ms: float | None = None
    connect_ms: float | None = None
    tls_ms: float | None = None
    first_byte_ms: float | None = None


@dataclass(frozen=True, slots=True)
class Observation:
    """What a probe saw. A failing target is an observation with ``error_class`` set.

    ``headers`` keys are lower-case. ``body`` is capped by the probe.
    """

    connected: bool
    latency_ms: float | None
    phases: Phases = field(default_factory=Phases)
    status_code: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    ip: str | None = None
    error_class: ErrorClass | None = None
    error_message: str | None = None


@dataclass(frozen=True, slots=True)
class ConditionResult:
    """One evaluated condition.

    ``description`` says what was compared, e.g. ``[STATUS] (500) == 200``.
    """

    condition: str
    success: bool
    description: str
    latency_only: bool = False


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The outcome of one scheduled check from one region.

    ``ok`` means the target is healthy: it answered and every condition that is not purely about
    latency held. ``degraded`` means it is healthy but a latency condition failed.
    """

    id: uuid.UUID
    monitor_id: uuid.UUID
    region: str
    scheduled_at: datetime
    started_at: datetime
    latency_ms: float | None
    ok: bool
    degraded: bool = False
    status_code: int | None = None
    phases: Phases = field(default_factory=Phases)
    error_class: ErrorClass | None = None
    error_message: str | None = None


@dataclass(frozen=True, slots=True)
class Organization:
    id: uuid.UUID
    slug: str
    name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: uuid.UUID
    org_id: uuid.UUID
    name: str
    prefix: str
    scope: Scope
    created_at: datetime


@dataclass(frozen=True, slots=True)
class LatencyThresholds:
    p95_ms: float | None = None
    p99_ms: float | None = None


@dataclass(frozen=True, slots=True)
class MonitorConfig:
    """The user-editable part of a monitor."""

    name: str
    kind: str
    target: str
    interval_s: int = 60
    timeout_s: float = 10.0
    regions: tuple[str, ...] = ("local",)
    http: HttpOptions = field(default_factory=HttpOptions)
    conditions: tuple[str, ...] = ()
    latency: LatencyThresholds = field(default_factory=LatencyThresholds)
    failure_threshold: int = 2
    recovery_threshold: int = 1


@dataclass(frozen=True, slots=True)
class Monitor:
    id: uuid.UUID
    org_id: uuid.UUID
    config: MonitorConfig
    paused: bool
    status: Status
    status_changed_at: datetime | None
    created_at: datetime
    updated_at: datetime

    def spec(self) -> CheckSpec:
        c = self.config
        return CheckSpec(
            monitor_id=self.id,
            kind=c.kind,
            target=c.target,
            interval_s=c.interval_s,
            timeout_s=c.timeout_s,
            http=c.http,
            conditions=c.conditions,
        )


@dataclass(frozen=True, slots=True)
class RegionState:
    """One region's view of a monitor, after its thresholds.

    ``streak`` counts the latest consecutive results whose own level was ``streak_level``
    (up, degraded or down); ``status`` changes only when a streak reaches its threshold.
    """

    monitor_id: uuid.UUID
    region: str
    status: Status
    streak_level: Status
    streak: int
    last_result_at: datetime | None
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class StateChange:
    """A row for every monitor state change (the future outbox reads these)."""

    id: uuid.UUID
    monitor_id: uuid.UUID
    from_status: Status
    to_status: Status
    at: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class StatusPage:
    id: uuid.UUID
    org_id: uuid.UUID
    slug: str
    title: str
    description: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Component:
    id: uuid.UUID
    org_id: uuid.UUID
    name: str
    description: str
    monitor_id: uuid.UUID | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DayUptime:
    """Checks of one UTC day, for uptime bars."""

    day: str  # YYYY-MM-DD
    checks: int
    ok: int
    degraded: int


@dataclass(frozen=True, slots=True)
class LatencySample:
    region: str
    ok: bool
    latency_ms: float | None
